import { pino } from 'pino';
import { ConfigError, parseGatewayConfig } from './config.js';
import { startGateway } from './index.js';

const logger = pino({ level: process.env.GATEWAY_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info', base: { component: 'gateway' } });

try {
  const config = parseGatewayConfig(process.env);
  const gateway = await startGateway(config, logger);
  if (gateway.tokenCreated) {
    // The token itself never goes to the log; the operator reads it from the 0600 file once.
    logger.info({ file: config.auth.tokenFile }, 'first run: clients authenticate with Authorization: Bearer <contents of this file>');
  }
  // The project's launcher forks components and waits for this message.
  const base = gateway.url.replace(/\/mcp$/, '');
  process.send?.({
    type: 'ready',
    endpoints: { mcp: gateway.url, healthz: `${base}/healthz`, metrics: `${base}/metrics`, tokenCreated: String(gateway.tokenCreated), auth: config.auth.mode },
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Forked by the launcher: when it goes away (even killed outright), stop rather than linger.
  process.once('disconnect', () => stop('launcher gone'));
} catch (err) {
  if (err instanceof ConfigError) {
    logger.fatal(err.message);
    process.exit(2);
  }
  throw err;
}
