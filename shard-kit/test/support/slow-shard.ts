// A shard whose Echo takes 1.5 s, run as a child process by the shutdown test.
// Prints its port; the TLS files come from the environment.
import { pino } from 'pino';
import { EchoResponse, KitchenSinkServiceService } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import { stopOnSignals } from '@homelab-mcp/component-kit';
import { serve } from '../../src/index.js';

const env = process.env;
const logger = pino({ level: 'silent' });
const shard = await serve({
  name: 'kitchen',
  serviceName: 'homelab.testing.v1.KitchenSinkService',
  service: KitchenSinkServiceService,
  logger,
  listen: {
    host: '127.0.0.1',
    port: 0,
    tls: { caFile: env.TLS_CA ?? '', certFile: env.TLS_CERT ?? '', keyFile: env.TLS_KEY ?? '', allowedPeers: ['gateway'] },
  },
  handlers: {
    echo: async (req) => {
      await new Promise((r) => setTimeout(r, 1500));
      return EchoResponse.fromPartial({ echo: req });
    },
    count: async function* () {},
    fail: async () => ({}),
    change: async () => ({ applied: false, value: '' }),
  },
});
stopOnSignals(() => shard.close(5000), logger);
process.stdout.write(`${shard.port}\n`);
