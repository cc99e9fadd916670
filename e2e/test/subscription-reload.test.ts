import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { pino } from 'pino';
import { startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { parseConfig as parseWatchmanConfig, startWatchman } from '@homelab-mcp/shard-dozzle';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki, type TestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { connectClient } from '@homelab-mcp/gateway/testing/mcp-client.js';
import { waitFor } from '@homelab-mcp/component-kit';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

// A subscription outlives the connection it started on: the Watchman moves to
// another address, the nodes file says so, and the gateway replaces the
// connection without a restart. The subscriber keeps hearing of new lines.
describe('a resource subscription when its shard moves', () => {
  let dir: string;
  let pki: TestPki;
  let dozzle: DozzleSim;
  const watchmen: RunningShard[] = [];
  let gateway: Gateway;
  let client: Client;
  const updated: string[] = [];
  const nodesFile = () => join(dir, 'nodes', 'nodes.yaml');

  const startShard = async () => {
    const tls = pki.shardTls('shard-dozzle');
    const shard = await startWatchman(parseWatchmanConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, DOZZLE_API: dozzle.url }), logger);
    watchmen.push(shard);
    return shard;
  };
  const listShard = (port: number) => writeFile(nodesFile(), `shards:\n  - name: dozzle\n    url: 127.0.0.1:${port}\n`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-sub-reload-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    dozzle = await startDozzleSim();
    const first = await startShard();
    await mkdir(join(dir, 'nodes'));
    await listShard(first.port);
    gateway = await startGateway(parseGatewayConfig({ ...pki.gatewayEnv(join(dir, 'gateway')), GATEWAY_CONFIG: nodesFile(), GATEWAY_RECONNECT_MAX_MS: '500' }), logger);
    await waitFor('the Watchman serving', () => gateway.shards().some((s) => s.state === 'serving'));
    client = await connectClient(gateway, 'sub-reload-test', (uri) => void updated.push(uri));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    for (const shard of watchmen) await shard.close(0);
    await dozzle?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('follows the Watchman to its new address and keeps notifying', async () => {
    const container = dozzle.containers[0]!.container.name.replace(/^\//, '');
    const uri = `docker://containers/${container}/logs`;
    await client.subscribeResource({ uri });
    await waitFor('an update for a new line', () => {
      dozzle.appendLog(container, 'stdout', 'before the move');
      return updated.includes(uri);
    });
    const moved = await startShard();
    await listShard(moved.port);
    await waitFor('the gateway on the new address', () => gateway.shards().some((s) => s.state === 'serving' && s.address === `127.0.0.1:${moved.port}`), 20_000);
    await watchmen[0]!.close(0);
    updated.length = 0;
    await waitFor(
      'an update for a line after the move',
      () => {
        dozzle.appendLog(container, 'stdout', 'after the move');
        return updated.includes(uri);
      },
      20_000,
    );
    expect(updated).toContain(uri);
  });
});
