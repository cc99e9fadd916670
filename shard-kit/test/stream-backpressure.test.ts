import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import { startKitchenSink, type KitchenSinkControl } from './support/kitchen-sink.js';
import type { CountResponse } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import { clientCredentials, kitchenClient } from './support/clients.js';

let dir: string;
let pki: Awaited<ReturnType<typeof ensurePki>>;
let shard: KitchenSinkControl;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shard-kit-stream-'));
  pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
  const id = pki.identities['shard-kitchen']!;
  shard = await startKitchenSink({ listen: { host: '127.0.0.1', port: 0, tls: { caFile: pki.caFile, certFile: id.certFile, keyFile: id.keyFile, allowedPeers: ['gateway'] } }, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await shard.close();
  await rm(dir, { recursive: true, force: true });
});

it('a long stream to a reader that keeps it waiting piles no listeners on the call', async () => {
  const client = kitchenClient(shard.port, clientCredentials({ caFile: pki.caFile, certFile: pki.identities.gateway!.certFile, keyFile: pki.identities.gateway!.keyFile }));
  try {
    const numbers: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = client.count({ count: 1000 }, { deadline: Date.now() + 30_000 });
      // Read in bursts with pauses between, so the shard's writes wait for 'drain' many times.
      stream.on('data', (msg: CountResponse) => {
        numbers.push(...msg.numbers);
        if (numbers.length % 50 === 0) {
          stream.pause();
          setTimeout(() => stream.resume(), 5);
        }
      });
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    expect(numbers).toHaveLength(1000);
    // Each wait for 'drain' must take its abort listener away again; more than ten left on one signal
    // is what Node reports as a possible leak (MaxListenersExceededWarning).
    expect(shard.observations.countAbortListeners).toBeLessThanOrEqual(2);
  } finally {
    client.close();
  }
});
