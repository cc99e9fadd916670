import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { dockerUnavailable, startDockerEngine, startSocketProxy, type DockerEngine, type SocketProxy } from '@homelab-mcp/homelab-sim/docker/index.js';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createNetnsLink, netnsUnavailableReason, startInNetns, type NetnsLink, type NetnsProcess } from '@homelab-mcp/gateway/testing/netns.js';
import { createTestPki, type TestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

// Two Docker nodes, each its own network namespace joined to the gateway's by
// a veth pair: a real Docker engine, its socket proxy (haproxy with the
// deployment's rules) listening on that namespace's loopback only, and a
// Watchman instance beside it. The gateway (this process) federates both.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const unavailable = netnsUnavailableReason() ?? dockerUnavailable();
const suite = unavailable ? describe.skip : describe;
if (unavailable) {
  describe('two Docker nodes', () => {
    it(`is skipped: it needs root, iproute2 network namespaces and Debian's docker.io, haproxy and busybox-static (${unavailable})`, () => {
      expect(unavailable).toBeTruthy();
    });
  });
}

interface Node {
  name: string;
  link: NetnsLink;
  engine: DockerEngine;
  proxy: SocketProxy;
  watchman: NetnsProcess;
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

// Enough log lines that a node's search takes many round trips to its engine.
const chatty = (tag: string) => `seq 1 4000 | while read i; do echo "${tag} request $i done"; done; echo "${tag} ready"; sleep 3600`;

suite('two Watchman instances on two Docker nodes behind one gateway', () => {
  let dir: string;
  let pki: TestPki;
  const nodes = new Map<string, Node>();
  const extra: NetnsProcess[] = [];
  let gateway: Gateway | undefined;
  let client: Client | undefined;
  const gw = () => gateway!;
  const call = async (name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void) =>
    (await client!.callTool({ name, arguments: args }, undefined, { timeout: 120_000, ...(onprogress ? { onprogress } : {}) })) as CallToolResult;
  const state = (name: string) => gw().shards().find((s) => s.name === name);

  const startNode = async (index: number, name: string, containers: [string, string][]): Promise<Node> => {
    const link = createNetnsLink(index);
    const engine = await startDockerEngine();
    for (const [c, script] of containers) await engine.runContainer(c, script);
    const proxy = await startSocketProxy(engine.socket, { netns: link.namespace });
    const tls = pki.shardTls(`shard-dozzle/${name}`);
    const watchman = await startInNetns(link.namespace, {
      name: `shard-dozzle on ${name}`,
      entry: 'shard-dozzle/src/main.ts',
      env: { LOG_LEVEL: 'warn', SHARD_LISTEN: `${link.namespaceAddress}:0`, SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, DOCKER_HOST: proxy.dockerHost, SHARD_INSTANCE: name },
    });
    const node = { name, link, engine, proxy, watchman };
    nodes.set(name, node);
    return node;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-nodes-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-dozzle/main', 'shard-dozzle/nas']);
    const main = await startNode(1, 'main', [['gitea', chatty('gitea')], ['whoami', chatty('whoami-main')]]);
    const nas = await startNode(2, 'nas', [
      ['whoami', chatty('whoami-nas')],
      ...Array.from({ length: 6 }, (_, i): [string, string] => [`media-${i}`, chatty(`media-${i}`)]),
    ]);
    // In nas's namespace, a Watchman holding main's certificate where the gateway expects node attic.
    const attic = pki.shardTls('shard-dozzle/main');
    extra.push(
      await startInNetns(nas.link.namespace, {
        name: 'shard-dozzle with main\'s certificate',
        entry: 'shard-dozzle/src/main.ts',
        env: { LOG_LEVEL: 'warn', SHARD_LISTEN: `${nas.link.namespaceAddress}:0`, SHARD_TLS_CA: attic.caFile, SHARD_TLS_CERT: attic.certFile, SHARD_TLS_KEY: attic.keyFile, DOCKER_HOST: nas.proxy.dockerHost, SHARD_INSTANCE: 'attic' },
      }),
    );
    for (const [name, engine] of [['gitea', main.engine], ['media-5', nas.engine]] as const) {
      await waitFor(`${name} logging`, async () => (await engine.docker(['logs', '--tail', '1', name]).catch(() => '')).includes('ready'), 60_000);
    }
    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'data')),
        SHARD_DOZZLE_INSTANCES: `main=${main.watchman.endpoints.grpc},nas=${nas.watchman.endpoints.grpc},attic=${extra[0]!.endpoints.grpc}`,
        GATEWAY_RECONNECT_INITIAL_MS: '100',
        GATEWAY_RECONNECT_MAX_MS: '500',
      }),
      logger,
    );
    await waitFor('main and nas serving, attic refused', () => state('dozzle/main')?.state === 'serving' && state('dozzle/nas')?.state === 'serving' && /certificate/.test(state('dozzle/attic')?.lastError ?? ''), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(gw().shards(), null, 2)}\n${[...nodes.values()].map((n) => n.watchman.output()).join('\n')}`);
    });
    client = new Client({ name: 'fleet-nodes-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw().url), { requestInit: { headers: { authorization: `Bearer ${gw().token}` } } }));
  }, 300_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await gateway?.close().catch(() => undefined);
    await Promise.allSettled([...extra, ...[...nodes.values()].map((n) => n.watchman)].map((p) => p.stop()));
    for (const n of nodes.values()) {
      await n.proxy.close().catch(() => undefined);
      await n.engine.close().catch(() => undefined);
      n.link.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('keeps each socket proxy on its own node: the gateway cannot reach it', async () => {
    const nas = nodes.get('nas')!;
    const port = new URL(nas.proxy.url).port;
    // The proxy listens on the namespace's loopback; from here that address is our own loopback, where nothing listens.
    expect(await fetch(`http://127.0.0.1:${port}/_ping`).then(() => 'reached', () => 'refused')).toBe('refused');
    expect(await fetch(`http://${nas.link.namespaceAddress}:${port}/_ping`, { signal: AbortSignal.timeout(2000) }).then(() => 'reached', () => 'refused')).toBe('refused');
  });

  it('merges list_containers over both engines, each container with its node', async () => {
    const result = await call('list_containers', { all: true });
    const { containers, fleet } = result.structuredContent as { containers: { name: string; node: string }[]; fleet: { partial: boolean } };
    expect(containers.map((c) => `${c.name}@${c.node}`)).toEqual([
      'gitea@main', ...Array.from({ length: 6 }, (_, i) => `media-${i}@nas`), 'whoami@main', 'whoami@nas',
    ]);
    // attic is configured and refused: its share is missing, and the list says so.
    expect(fleet.partial).toBe(true);
    expect(text(result)).toMatch(/Partial: node attic is unreachable .*certificate names spiffe:\/\/homelab-mcp\/shard-dozzle\/main, expected spiffe:\/\/homelab-mcp\/shard-dozzle\/attic/);
  });

  it('routes tail_logs to the engine running the container, and asks for the node of a name on both', async () => {
    const gitea = await call('tail_logs', { container: 'gitea', lines: 2 });
    expect(gitea.isError).toBeFalsy();
    expect((gitea.structuredContent as { lines: { text: string }[] }).lines.map((l) => l.text)).toEqual(['gitea request 4000 done', 'gitea ready']);
    const media = await call('tail_logs', { container: 'media-3', lines: 1 });
    expect((media.structuredContent as { lines: { text: string }[] }).lines.map((l) => l.text)).toEqual(['media-3 ready']);
    const ambiguous = await call('tail_logs', { container: 'whoami', lines: 1 });
    expect(ambiguous.isError).toBe(true);
    expect(text(ambiguous)).toMatch(/"whoami" is on several nodes: main, nas/);
    const onNas = await call('tail_logs', { container: 'whoami', lines: 1, node: 'nas' });
    expect((onNas.structuredContent as { lines: { text: string }[] }).lines.map((l) => l.text)).toEqual(['whoami-nas ready']);
  });

  it('merges search_logs over both engines, and marks the result partial when a node dies mid-search, without hanging', async () => {
    const whole = await call('search_logs', { query: 'ready', max_matches: 100 });
    const all = whole.structuredContent as { matches: { container: string; node: string }[] };
    expect(all.matches.map((m) => `${m.container}@${m.node}`).sort()).toEqual([
      'gitea@main', ...Array.from({ length: 6 }, (_, i) => `media-${i}@nas`), 'whoami@main', 'whoami@nas',
    ].sort());

    const nas = nodes.get('nas')!;
    let killed = false;
    const started = Date.now();
    const cut = await call('search_logs', { query: 'request 3999 done', max_matches: 100 }, (p) => {
      // The first container nas reports searched: nas still has the others to go.
      if (!killed && p.message?.startsWith('nas:')) {
        killed = true;
        nas.watchman.child.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    expect(cut.isError).toBeFalsy();
    const { matches, fleet } = cut.structuredContent as { matches: { container: string; node: string }[]; fleet: { partial: boolean; instances: { node: string; ok: boolean; error: string }[] } };
    expect(fleet.partial).toBe(true);
    expect(fleet.instances.find((i) => i.node === 'nas')).toMatchObject({ ok: false });
    expect(fleet.instances.find((i) => i.node === 'main')).toMatchObject({ ok: true });
    expect(matches.filter((m) => m.node === 'main').map((m) => m.container).sort()).toEqual(['gitea', 'whoami']);
    expect(text(cut)).toMatch(/Partial: node nas failed: /);
    logger.info({ ms: Date.now() - started }, 'search with a node killed midway answered');

    // Afterwards: routed calls to the dead node say so, and the tools stay listed while main serves.
    await waitFor('nas seen down', () => state('dozzle/nas')?.state !== 'serving');
    expect(gw().tools().map((t) => t.name)).toContain('search_logs');
    const dead = await call('tail_logs', { container: 'media-1', node: 'nas' });
    expect(text(dead)).toMatch(/node nas is unreachable/);
  });
});
