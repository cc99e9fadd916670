import { createLogger, runComponent } from '@homelab-mcp/component-kit';
import { parseGatewayConfig } from './config.js';
import { startGateway } from './index.js';

const logger = createLogger('gateway', process.env.GATEWAY_LOG_LEVEL ?? process.env.LOG_LEVEL);
await runComponent('gateway', logger, async () => {
  const config = parseGatewayConfig(process.env);
  const gateway = await startGateway(config, logger);
  if (gateway.tokenCreated) {
    // The token itself never goes to the log; the operator reads it from the 0600 file once.
    logger.info({ file: config.auth.tokenFile }, 'first run: clients authenticate with Authorization: Bearer <contents of this file>');
  }
  const base = gateway.url.replace(/\/mcp$/, '');
  return {
    endpoints: { mcp: gateway.url, healthz: `${base}/healthz`, metrics: `${base}/metrics`, tokenCreated: String(gateway.tokenCreated), auth: config.auth.mode, approval: config.approval, console: `${base}/console` },
    close: () => gateway.close(),
  };
});
