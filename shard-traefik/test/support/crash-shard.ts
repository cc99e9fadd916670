// The real Navigator (gRPC on port 0, mTLS), configured from the environment like main.ts.
// Armed over IPC with an apply stage ({ arm: 'written' }), it kills itself with SIGKILL the
// moment it logs that stage, so every stage of an apply can be cut exactly.
import { pino } from 'pino';
import { reportReady, stopOnSignals } from '@homelab-mcp/component-kit';
import { parseConfig, startNavigator } from '../../src/index.js';

let armed: string | undefined;
const logger = pino({ level: 'debug' }, {
  write(line: string) {
    process.stdout.write(line);
    if (armed && (JSON.parse(line) as { stage?: string }).stage === armed) process.kill(process.pid, 'SIGKILL');
  },
});
process.on('message', (m: { arm?: string }) => {
  armed = m.arm;
  process.send?.({ type: 'armed', stage: armed });
});
const shard = await startNavigator(parseConfig(process.env), logger);
stopOnSignals(() => shard.close(), logger);
reportReady({ grpc: shard.address });
