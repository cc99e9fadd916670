import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway } from '@homelab-mcp/gateway';
import { createTestPki, waitServing } from '@homelab-mcp/gateway/testing/test-pki.js';
import { startTraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import { parseConfig, startNavigator } from '@homelab-mcp/shard-traefik';

// A component that leaves a timer, socket or file watcher behind keeps its
// process alive after close() (and a test runner's worker with it). The
// gateway, a shard and a stand-in run here in this process, as in the tests,
// and must hand back every resource they took.

const logger = pino({ level: 'silent' });

/** This process's active resources (sockets, servers, timers, ...), counted by type. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

/** The resources held beyond `baseline`, by type: a leak. Fewer than the baseline is fine (a test runner's own timer may have fired). */
function beyond(now: Record<string, number>, baseline: Record<string, number>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [type, n] of Object.entries(now)) if (n > (baseline[type] ?? 0)) extra[type] = n - (baseline[type] ?? 0);
  return extra;
}

/** The resources once `done` holds for them (by default: none beyond `baseline`), or after `timeoutMs`. */
async function settledTo(baseline: Record<string, number>, timeoutMs = 10_000, done = (now: Record<string, number>) => Object.keys(beyond(now, baseline)).length === 0): Promise<Record<string, number>> {
  const same = done;
  const deadline = Date.now() + timeoutMs;
  let now = resources();
  // Sockets close a few event-loop turns after close() resolves: wait for it, up to a bound.
  while (!same(now) && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20).unref());
    now = resources();
  }
  return now;
}

describe('closing a component', () => {
  it('gives back every handle the gateway, a shard and a stand-in opened, a refused impostor link included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'handles-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-traefik']);
    // What the test runner itself holds, once the set-up's file operations are done.
    const baseline = await settledTo({}, 5000, (now) => !Object.keys(now).some((type) => type.startsWith('FSReq')));

    const sim = await startTraefikSim({ dynamicDir: join(dir, 'dynamic') });
    const tls = pki.shardTls('shard-traefik');
    const shard = await startNavigator(
      parseConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, TRAEFIK_API: sim.apiUrl, TRAEFIK_DYNAMIC_DIR: join(dir, 'dynamic'), TRAEFIK_WEBSECURE_ADDRESS: sim.websecureAddress }),
      logger,
    );
    const gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'gateway')),
        SHARD_TRAEFIK_URL: shard.address,
        // The same shard where another identity is expected: the gateway refuses its certificate on every attempt.
        SHARD_IMPOSTOR_URL: shard.address,
        SHARD_IMPOSTOR_IDENTITY: 'shard-dozzle',
        GATEWAY_RECONNECT_INITIAL_MS: '50',
        GATEWAY_RECONNECT_MAX_MS: '100',
      }),
      logger,
    );
    const impostor = () => gateway.shards().find((s) => s.name === 'impostor');
    while (!/not shard-dozzle/.test(impostor()?.lastError ?? '')) await new Promise((r) => setTimeout(r, 20));
    await waitServing({ shards: () => gateway.shards().filter((s) => s.name === 'traefik') });
    const client = new Client({ name: 'handles-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
    const routes = (await client.callTool({ name: 'get_routes', arguments: {} })) as CallToolResult;
    expect(routes.isError).toBeFalsy();
    // TLS handshakes with the stand-in's websecure entry point, which answers each with a 404 and
    // closes; the longest timeout lets a socket left open outlive the wait below.
    const ssl = (await client.callTool({ name: 'check_ssl_status', arguments: { hosts: ['gitea.home.lan', 'unknown.home.lan'], timeout_ms: 15_000 } })) as CallToolResult;
    expect(ssl.isError).toBeFalsy();

    await client.close();
    await gateway.close();
    await shard.close();
    await sim.close();
    expect(beyond(await settledTo(baseline), baseline)).toEqual({});
    await rm(dir, { recursive: true, force: true });
  }, 60_000);
});
