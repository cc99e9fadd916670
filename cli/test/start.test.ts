import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { loadCliConfig } from '../src/config.js';
import { runDoctor } from '../src/doctor.js';
import { repoRoot } from '../src/paths.js';
import { startAll, type Started } from '../src/start.js';
import { RUNTIME_FLAGS } from '../src/supervisor.js';

const run = promisify(execFile);

const BRIEF_TOOLS = ['get_routes', 'add_dynamic_config', 'check_ssl_status', 'tail_logs', 'search_logs', 'get_container_stats', 'sync_brand', 'create_application', 'manage_flows'];

let home: string;
let started: Started;
let output = '';
let client: Client;
let token = '';

function sink(): NodeJS.WritableStream & { text: () => string } {
  let text = '';
  return { write: (c: string) => ((text += c), true), text: () => text } as unknown as NodeJS.WritableStream & { text: () => string };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'homelab-mcp-start-'));
  const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home, HOMELAB_MCP_GATEWAY_PORT: '0', HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0', HOMELAB_MCP_SHARD_DOZZLE_PORT: '0', HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0', HOMELAB_MCP_LOG_LEVEL: 'error' });
  const out = sink();
  started = await startAll(cfg, pino({ level: 'silent' }), { only: new Set(['sim', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'gateway']), env: {}, out });
  output = out.text();
  token = /token {9}(\S+)/.exec(output)?.[1] ?? '';
  client = new Client({ name: 'start-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(started.state.mcpUrl ?? ''), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
}, 120_000);

afterAll(async () => {
  await client?.close();
  await started?.stop();
  await rm(home, { recursive: true, force: true });
});

async function waitForTools(names: string[]): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const listed = (await client.listTools()).tools.map((t) => t.name);
    if (names.every((n) => listed.includes(n))) return listed;
    await new Promise((r) => setTimeout(r, 200));
  }
  return (await client.listTools()).tools.map((t) => t.name);
}

describe('homelab-mcp start, as a new user runs it', () => {
  it('creates certificates with private keys readable by the owner only and prints the URL and the token once', async () => {
    expect(output).toContain('homelab-mcp is running');
    expect(output).toMatch(/MCP endpoint {2}http:\/\/127\.0\.0\.1:\d+\/mcp/);
    expect(token.length).toBeGreaterThan(30);
    expect((await stat(join(home, 'pki', 'gateway', 'key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'gateway', 'token'))).mode & 0o777).toBe(0o600);
  });

  it('lists all nine tools of the brief and each answers against the stand-ins', async () => {
    const listed = await waitForTools(BRIEF_TOOLS);
    expect(listed).toEqual(expect.arrayContaining([...BRIEF_TOOLS, 'homelab_status']));
    const calls: [string, Record<string, unknown>][] = [
      ['get_routes', { host: 'gitea.home.lan' }],
      ['add_dynamic_config', { name: 'pinchflat', hosts: ['pinchflat2.home.lan'], service: { urls: ['http://10.0.0.5:8945'] } }],
      ['check_ssl_status', { hosts: ['gitea.home.lan'] }],
      ['tail_logs', { container: 'gitea', lines: 5 }],
      ['search_logs', { query: 'database is locked' }],
      ['get_container_stats', { sort_by: 'STATS_SORT_MEMORY' }],
      ['sync_brand', { domain: 'auth.home.lan', title: 'Homelab' }],
      ['create_application', { name: 'Pinchflat', slug: 'pinchflat', proxy: { external_host: 'https://pinchflat.home.lan' } }],
      ['manage_flows', { list: {} }],
    ];
    for (const [name, args] of calls) {
      const res = await client.callTool({ name, arguments: args });
      expect({ name, isError: res.isError ?? false, text: res.isError ? JSON.stringify(res.content) : '' }).toEqual({ name, isError: false, text: '' });
      expect(res.structuredContent).toBeDefined();
    }
    const routes = await client.callTool({ name: 'get_routes', arguments: { host: 'gitea.home.lan' } });
    expect(JSON.stringify(routes.structuredContent)).toContain('gitea@docker');
  });

  it('audits every call that can change something (append-only JSON lines, 0600), and no read', async () => {
    const file = join(home, 'gateway', 'audit.log');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const entries = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { tool: string; result: string; subject: string; time: string });
    expect(entries.map((e) => `${e.tool}:${e.result}`)).toEqual(expect.arrayContaining(['add_dynamic_config:planned', 'sync_brand:planned', 'create_application:planned']));
    expect(entries.some((e) => e.tool === 'get_routes' || e.tool === 'tail_logs')).toBe(false);
    expect(entries.every((e) => e.subject && !Number.isNaN(Date.parse(e.time)))).toBe(true);
  });

  it('runs every component from its compiled bundle, without a TypeScript loader, with its V8 settings', async () => {
    const argv = (pid: number | undefined) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    for (const c of started.components) {
      const args = argv(c.child.pid);
      const component = c.spec.name.startsWith('sim-') ? 'homelab-sim' : c.spec.name;
      expect({ component, entry: args.at(-1), tsx: args.includes('tsx') }).toEqual({ component, entry: join(repoRoot, 'dist', `${component}.mjs`), tsx: false });
      expect({ component, flags: args.slice(1, -1) }).toEqual({ component, flags: [...(RUNTIME_FLAGS[component] ?? [])] });
    }
    expect(argv(started.components.find((c) => c.spec.name === 'shard-dozzle')?.child.pid)).toContain('--no-allocation-site-pretenuring');
  });

  it('runs bundles that are ASCII only: one other character makes V8 hold the whole script at two bytes a character', async () => {
    for (const c of started.components) {
      const entry = readFileSync(`/proc/${c.child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).at(-1) ?? '';
      const lines = readFileSync(entry, 'utf8').split('\n');
      const at = lines.findIndex((l) => [...l].some((ch) => ch.charCodeAt(0) > 0x7f));
      expect({ entry, nonAscii: at < 0 ? null : `line ${at + 1}: ${lines[at]?.trim().slice(0, 120)}` }).toEqual({ entry, nonAscii: null });
    }
  });

  it('the built CLI (what the images run) answers the container healthcheck', async () => {
    const healthz = new URL('/healthz', started.state.mcpUrl ?? '').href;
    const { stdout } = await run(process.execPath, [join(repoRoot, 'dist', 'cli.mjs'), 'healthcheck', '--http', healthz]);
    expect(stdout).toBe('');
    const traefik = started.state.components['shard-traefik']?.grpc ?? '';
    const id = join(home, 'pki', 'shard-traefik');
    const shard = await run(process.execPath, [join(repoRoot, 'dist', 'cli.mjs'), 'healthcheck', '--grpc', traefik, '--identity', 'shard-traefik'], {
      env: { ...process.env, SHARD_TLS_CA: join(home, 'pki', 'ca.pem'), SHARD_TLS_CERT: join(id, 'cert.pem'), SHARD_TLS_KEY: join(id, 'key.pem') },
    });
    expect(shard.stdout.trim()).toBe('SERVING');
    // Nothing on stderr: a container healthcheck runs every 30 s and its warnings fill the logs.
    expect(shard.stderr).toBe('');
    await expect(run(process.execPath, [join(repoRoot, 'dist', 'cli.mjs'), 'healthcheck', '--http', new URL('/nowhere', healthz).href])).rejects.toMatchObject({ code: 1 });
  });

  it('doctor passes, then names a stopped stand-in and fails', async () => {
    const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home });
    const ok = sink();
    expect(await runDoctor(cfg, { env: {}, out: ok })).toBe(0);
    const sim = started.components.find((c) => c.spec.name === 'sim-authentik');
    sim?.child.kill('SIGTERM');
    await sim?.exited;
    const bad = sink();
    expect(await runDoctor(cfg, { env: {}, out: bad })).toBe(1);
    expect(bad.text()).toMatch(/FAIL {2}authentik +api token/);
  });

  it('doctor checks a Docker node listed in the gateway\'s shard file, and its fix says to start that node\'s Watchman there', async () => {
    const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home });
    const nodes = join(home, 'nodes.yaml');
    // A port nothing listens on: the node's Watchman is down.
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    await writeFile(nodes, `shards:\n  - { name: dozzle, instance: nas, url: 127.0.0.1:${closed} }\n`);
    const out = sink();
    expect(await runDoctor(cfg, { env: { GATEWAY_CONFIG: nodes }, out })).toBe(1);
    const line = out.text().split('\n').find((l) => /^FAIL {2}dozzle\/nas +tcp/.test(l));
    expect(line).toBeDefined();
    expect(out.text()).toMatch(/Start shard-dozzle on node nas \(docker-compose -f docker-compose\.docker-node\.yaml up -d there\)/);
    // A misspelt key: said, not read as no nodes.
    await writeFile(nodes, `shards:\n  - { name: dozzle, instnace: nas, url: 127.0.0.1:${closed} }\n`);
    const typo = sink();
    expect(await runDoctor(cfg, { env: { GATEWAY_CONFIG: nodes }, out: typo })).toBe(1);
    expect(typo.text()).toMatch(/FAIL {2}gateway +shard file +.*nodes\.yaml: shards\.0: Unrecognized key: "instnace"/);
  });
});
