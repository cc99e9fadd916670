import { createLogger, runComponent } from '@homelab-mcp/component-kit';
import { parseConfig, startWatchman } from './index.js';

const logger = createLogger('shard-dozzle', process.env.LOG_LEVEL);
await runComponent('shard-dozzle', logger, async () => {
  const shard = await startWatchman(parseConfig(process.env), logger);
  return { endpoints: { grpc: shard.address }, close: () => shard.close() };
});
