import { pino } from 'pino';
import { ConfigError, handleSignals, reportReady } from '@homelab-mcp/shard-kit';
import { parseConfig, startGatekeeper } from './index.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { component: 'shard-authentik' } });
try {
  const config = parseConfig(process.env);
  const shard = await startGatekeeper(config, logger);
  handleSignals(shard, logger);
  reportReady({ grpc: shard.address });
} catch (err) {
  logger.fatal(err instanceof ConfigError ? err.message : { err }, 'shard-authentik could not start');
  process.exit(2);
}
