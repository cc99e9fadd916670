import { createLogger, runComponent } from '@homelab-mcp/component-kit';
import { parseConfig, startNavigator } from './index.js';

const logger = createLogger('shard-traefik', process.env.LOG_LEVEL);
await runComponent('shard-traefik', logger, async () => {
  const shard = await startNavigator(parseConfig(process.env), logger);
  return { endpoints: { grpc: shard.address }, close: () => shard.close() };
});
