import { createLogger, runComponent } from '@homelab-mcp/component-kit';
import { parseConfig, startGatekeeper } from './index.js';

const logger = createLogger('shard-authentik', process.env.LOG_LEVEL);
await runComponent('shard-authentik', logger, async () => {
  const shard = await startGatekeeper(parseConfig(process.env), logger);
  return { endpoints: { grpc: shard.address }, close: () => shard.close() };
});
