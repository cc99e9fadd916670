import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { homelabContainers, startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import { NavigatorServiceService } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { serve, ShardError, type RunningShard, type ShardHandlers } from '@homelab-mcp/shard-kit';
import { parseConfig as parseWatchmanConfig, startWatchman } from '@homelab-mcp/shard-dozzle';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki, type TestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

// Two Watchman instances (nodes main and nas), each on its own Dozzle
// stand-in with its own containers (whoami runs on both), behind one gateway.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const MAIN = ['gitea', 'traefik', 'whoami'];
const NAS = ['paperless', 'backup', 'whoami'];

interface Container { name: string; node: string }
interface Fleet { partial: boolean; instances: { node: string; ok: boolean; error: string; items: number }[] }

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

describe('a fleet of Watchmen behind one gateway: merged lists, routed calls, refused instances', () => {
  let dir: string;
  let pki: TestPki;
  const sims: DozzleSim[] = [];
  const shards = new Map<string, RunningShard>();
  const gateways: Gateway[] = [];
  const clients: Client[] = [];

  const startNode = async (node: string, names: string[], identity = `shard-dozzle/${node}`) => {
    const sim = await startDozzleSim({ containers: homelabContainers().filter((c) => names.includes(c.container.name)) });
    sims.push(sim);
    const tls = pki.shardTls(identity);
    const shard = await startWatchman(
      parseWatchmanConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, DOZZLE_API: sim.url, SHARD_INSTANCE: node }),
      logger,
    );
    shards.set(node, shard);
    return shard;
  };
  const navigator = (identity: string) => {
    const refuse = () => {
      throw new ShardError('UNIMPLEMENTED', 'not this one');
    };
    const handlers = Object.fromEntries(Object.keys(NavigatorServiceService).map((k) => [k, refuse])) as unknown as ShardHandlers<typeof NavigatorServiceService>;
    const [, instance] = identity.split('/');
    return serve({
      name: 'traefik',
      serviceName: 'homelab.traefik.v1.NavigatorService',
      service: NavigatorServiceService,
      handlers,
      listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls(identity), ...(instance ? { instance } : {}) },
      logger,
    });
  };
  const startGw = async (env: Record<string, string>) => {
    const gw = await startGateway(parseGatewayConfig({ ...pki.gatewayEnv(join(dir, `gw-${gateways.length}`)), GATEWAY_RECONNECT_INITIAL_MS: '50', GATEWAY_RECONNECT_MAX_MS: '200', ...env }), logger);
    gateways.push(gw);
    const client = new Client({ name: 'fleet-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${gw.token}` } } }));
    clients.push(client);
    return { gw, client };
  };

  let gw: Gateway;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as CallToolResult;
  const state = (g: Gateway, name: string) => g.shards().find((s) => s.name === name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-dozzle/main', 'shard-dozzle/nas', 'shard-traefik', 'shard-traefik/backup']);
    const [main, nas] = [await startNode('main', MAIN), await startNode('nas', NAS)];
    ({ gw, client } = await startGw({ SHARD_DOZZLE_INSTANCES: `main=127.0.0.1:${main.port},nas=127.0.0.1:${nas.port}` }));
    await waitFor('both Watchmen serving', () => ['dozzle/main', 'dozzle/nas'].every((n) => state(gw, n)?.state === 'serving'));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const g of gateways) await g.close();
    for (const s of shards.values()) await s.close(0);
    for (const s of sims) await s.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('offers one tool per RPC, not one per instance, and shows each instance in homelab_status', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['list_containers', 'tail_logs', 'search_logs', 'get_container_stats']));
    expect(names.filter((n) => /main|nas/.test(n))).toEqual([]);
    const status = await call('homelab_status');
    const shown = (status.structuredContent as { shards: { name: string; kind: string; instance: string; identity: string; state: string }[] }).shards;
    expect(shown.map((s) => [s.name, s.kind, s.instance, s.identity, s.state])).toEqual([
      ['dozzle/main', 'dozzle', 'main', 'shard-dozzle/main', 'serving'],
      ['dozzle/nas', 'dozzle', 'nas', 'shard-dozzle/nas', 'serving'],
    ]);
    expect(text(status)).toContain('dozzle/nas (127.0.0.1:');
  });

  it('merges list_containers over both nodes, each container with its node, sorted by name', async () => {
    const result = await call('list_containers', { all: true });
    expect(result.isError).toBeFalsy();
    const { containers, fleet } = result.structuredContent as { containers: Container[]; fleet: Fleet };
    expect(containers.map((c) => `${c.name}@${c.node}`)).toEqual(['backup@nas', 'gitea@main', 'paperless@nas', 'traefik@main', 'whoami@main', 'whoami@nas']);
    expect(fleet).toEqual({ partial: false, instances: [{ node: 'main', ok: true, error: '', items: 3 }, { node: 'nas', ok: true, error: '', items: 3 }] });
    // A node argument asks one node only.
    const nas = (await call('list_containers', { all: true, node: 'nas' })).structuredContent as { containers: Container[] };
    expect(nas.containers.map((c) => c.name).sort()).toEqual([...NAS].sort());
  });

  it('merges search_logs matches from both nodes by time and keeps to max_matches after the merge', async () => {
    const all = (await call('search_logs', { query: 'GET / HTTP', containers: ['whoami'] })).structuredContent as { matches: { container: string; node: string; line: { time: string } }[]; containers_searched: number; fleet: Fleet };
    expect(new Set(all.matches.map((m) => m.node))).toEqual(new Set(['main', 'nas']));
    expect(all.containers_searched).toBe(2);
    const times = all.matches.map((m) => m.line.time);
    expect(times).toEqual([...times].sort());
    const cut = await call('search_logs', { query: 'GET / HTTP', containers: ['whoami'], max_matches: 5 });
    expect((cut.structuredContent as { matches: unknown[] }).matches).toHaveLength(5);
    expect(text(cut)).toMatch(/cut to the limit of 5/);
  });

  it('routes a call about one container to the node that runs it, and asks for the node when the name is on both', async () => {
    const gitea = await call('tail_logs', { container: 'gitea', lines: 3 });
    expect(gitea.isError).toBeFalsy();
    expect((gitea.structuredContent as { container: { name: string } }).container.name).toBe('gitea');
    const paperless = await call('tail_logs', { container: 'paperless', lines: 3 });
    expect((paperless.structuredContent as { container: { name: string } }).container.name).toBe('paperless');

    const ambiguous = await call('tail_logs', { container: 'whoami', lines: 3 });
    expect(ambiguous.isError).toBe(true);
    expect(text(ambiguous)).toMatch(/"whoami" is on several nodes: main, nas.*node.*"main"/s);
    const onNas = await call('tail_logs', { container: 'whoami', lines: 3, node: 'nas' });
    expect(onNas.isError).toBeFalsy();
    const unknown = await call('tail_logs', { container: 'whoami', node: 'attic' });
    expect(text(unknown)).toMatch(/there is no node "attic". The nodes: main, nas/);
    const stats = await call('get_container_stats', { container: 'paperless' });
    expect(stats.isError).toBeFalsy();
  });

  it('diagnose_service checks a container on the node that runs it', async () => {
    const result = await call('diagnose_service', { service: 'paperless' });
    expect(result.isError).toBeFalsy();
    const { findings, checks } = result.structuredContent as { findings: { cause: string; what: string; fix_tool?: { name: string; arguments: Record<string, unknown> } }[]; checks: { check: string; status: string; why?: string }[] };
    expect(findings[0]).toMatchObject({ cause: 'container', what: expect.stringMatching(/^Container paperless on node nas is exited/), fix_tool: { name: 'tail_logs', arguments: { container: 'paperless', node: 'nas' } } });
    // Its logs were read on nas: main does not know the container.
    expect(checks.find((c) => c.check === 'app-logs')).toMatchObject({ status: expect.stringMatching(/^(passed|failed)$/) });
    // The fix it proposes works as given.
    const fix = await call(findings[0]!.fix_tool!.name, findings[0]!.fix_tool!.arguments);
    expect(fix.isError).toBeFalsy();
  });

  it('refuses an instance presenting another node\'s certificate, and a second Navigator', async () => {
    // pi's address serves a Watchman holding nas's certificate.
    const impostor = await startNode('pi', ['gitea'], 'shard-dozzle/nas');
    const [first, second] = [await navigator('shard-traefik'), await navigator('shard-traefik/backup')];
    shards.set('traefik', first);
    shards.set('traefik/backup', second);
    const { gw: other, client: otherClient } = await startGw({
      SHARD_DOZZLE_INSTANCES: `pi=127.0.0.1:${impostor.port}`,
      SHARD_TRAEFIK_URL: `127.0.0.1:${first.port}`,
      SHARD_TRAEFIK_INSTANCES: `backup=127.0.0.1:${second.port}`,
    });
    await waitFor('the impostor and the second Navigator refused', () => /certificate/.test(state(other, 'dozzle/pi')?.lastError ?? '') && state(other, 'traefik/backup')?.state === 'failed' && state(other, 'traefik')?.state === 'serving');
    expect(state(other, 'dozzle/pi')?.lastError).toContain('its certificate names spiffe://homelab-mcp/shard-dozzle/nas, expected spiffe://homelab-mcp/shard-dozzle/pi');
    expect(state(other, 'traefik/backup')?.lastError).toMatch(/homelab\.traefik\.v1\.NavigatorService is single-instance/);
    const status = text((await otherClient.callTool({ name: 'homelab_status', arguments: {} })) as CallToolResult);
    expect(status).toMatch(/traefik\/backup \([^)]*shard-traefik\/backup\): failed .*single-instance/);
    // No Watchman tools: no instance of dozzle was admitted.
    expect((await otherClient.listTools()).tools.map((t) => t.name)).not.toContain('list_containers');
  });

  it('lists a node added to GATEWAY_CONFIG without a restart (the file written after the start included), and drops one removed from it', async () => {
    const file = join(dir, 'gateway.yaml');
    const entry = (node: string) => `  - name: dozzle\n    instance: ${node}\n    url: 127.0.0.1:${shards.get(node)!.port}\n`;
    // As a deployment starts: the directory is mounted, the file not written yet.
    const { gw: live, client: liveClient } = await startGw({ GATEWAY_CONFIG: file });
    expect(live.shards()).toEqual([]);
    const nodesListed = async () => {
      // Until the first instance serves, the tool is not there at all.
      const res = (await liveClient.callTool({ name: 'list_containers', arguments: { all: true } }).catch(() => ({ isError: true }))) as CallToolResult;
      return res.isError ? [] : [...new Set((res.structuredContent as { containers: Container[] }).containers.map((c) => c.node))].sort();
    };
    await writeFile(file, `shards:\n${entry('main')}`);
    await waitFor('main listed', async () => (await nodesListed()).join() === 'main');
    // A rename over the file, as editors and deployments write it.
    await writeFile(`${file}.tmp`, `shards:\n${entry('main')}${entry('nas')}`);
    await rename(`${file}.tmp`, file);
    await waitFor('nas listed beside main', async () => (await nodesListed()).join() === 'main,nas');
    expect(live.shards().map((s) => [s.name, s.state])).toEqual([['dozzle/main', 'serving'], ['dozzle/nas', 'serving']]);
    await writeFile(file, `shards:\n${entry('nas')}`);
    await waitFor('main gone', () => live.shards().map((s) => s.name).join() === 'dozzle/nas');
    expect(await nodesListed()).toEqual(['nas']);
  });

  it('keeps a node\'s resources with it when the node moves to another address', async () => {
    const file = join(dir, 'moving.yaml');
    const entry = (node: string, port: number) => `  - name: dozzle\n    instance: ${node}\n    url: 127.0.0.1:${port}\n`;
    await writeFile(file, `shards:\n${entry('main', shards.get('main')!.port)}${entry('nas', shards.get('nas')!.port)}`);
    const { gw: live, client: liveClient } = await startGw({ GATEWAY_CONFIG: file });
    await waitFor('both nodes serving', () => live.shards().filter((s) => s.state === 'serving').length === 2);
    // gitea runs on main only; the first node (main) answers the logs resource of the kind.
    const uri = 'docker://containers/gitea/logs';
    expect((await liveClient.readResource({ uri })).contents).toEqual([expect.objectContaining({ uri })]);
    const sim = await startDozzleSim({ containers: homelabContainers().filter((c) => MAIN.includes(c.container.name)) });
    sims.push(sim);
    const tls = pki.shardTls('shard-dozzle/main');
    const moved = await startWatchman(parseWatchmanConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, DOZZLE_API: sim.url, SHARD_INSTANCE: 'main' }), logger);
    try {
      await writeFile(file, `shards:\n${entry('main', moved.port)}${entry('nas', shards.get('nas')!.port)}`);
      await waitFor('main serving at its new address', () => live.shards().some((s) => s.name === 'dozzle/main' && s.state === 'serving' && s.address === `127.0.0.1:${moved.port}`), 20_000);
      expect((await liveClient.readResource({ uri })).contents).toEqual([expect.objectContaining({ uri })]);
    } finally {
      await moved.close(0);
    }
  });

  it('drops only a dead node\'s share: partial lists, "node nas is unreachable" for routed calls, the tool list unchanged', async () => {
    const before = gw.tools().map((t) => t.name);
    await shards.get('nas')!.close(0);
    await waitFor('nas unreachable', () => state(gw, 'dozzle/nas')?.state !== 'serving');
    expect(gw.tools().map((t) => t.name)).toEqual(before);

    const list = await call('list_containers', { all: true });
    expect(list.isError).toBeFalsy();
    const { containers, fleet } = list.structuredContent as { containers: Container[]; fleet: Fleet };
    expect(containers.map((c) => c.node)).toEqual(['main', 'main', 'main']);
    expect(fleet.partial).toBe(true);
    expect(fleet.instances.find((i) => i.node === 'nas')).toMatchObject({ ok: false, error: expect.stringMatching(/^node nas is unreachable/) });
    expect(text(list)).toMatch(/Partial: node nas is unreachable/);

    const named = await call('tail_logs', { container: 'paperless', node: 'nas' });
    expect(named.isError).toBe(true);
    expect(text(named)).toMatch(/node nas is unreachable/);
    const located = await call('tail_logs', { container: 'paperless' });
    expect(text(located)).toMatch(/no serving node has "paperless" \(looked on main\), and node nas is unreachable.*it may be there/);

    // diagnose_service says which node it could not read, and claims nothing about it.
    const diagnosis = await call('diagnose_service', { service: 'gitea' });
    const summary = (diagnosis.structuredContent as { summary: string }).summary;
    expect(summary).toMatch(/Not read: the containers of node nas: /);
    expect(summary).not.toMatch(/: no problem found\./);

    // The last instance going takes the tools with it.
    await shards.get('main')!.close(0);
    await waitFor('the Watchman tools gone', () => !gw.tools().some((t) => t.name === 'list_containers'));
  });
});
