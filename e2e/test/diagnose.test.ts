import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { loadCliConfig } from '@homelab-mcp/cli/config.js';
import { startAll, type Started } from '@homelab-mcp/cli/start.js';
import type { Finding } from '@homelab-mcp/composites';

let home: string;
let started: Started;
let client: Client;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'diagnose-'));
  const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home, HOMELAB_MCP_GATEWAY_PORT: '0', HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0', HOMELAB_MCP_SHARD_DOZZLE_PORT: '0', HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0', HOMELAB_MCP_LOG_LEVEL: 'error' });
  let printed = '';
  const out = { write: (c: string) => ((printed += c), true) } as unknown as NodeJS.WritableStream;
  started = await startAll(cfg, pino({ level: 'silent' }), { only: new Set(['sim', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'gateway']), env: {}, out });
  const token = /token {9}(\S+)/.exec(printed)?.[1] ?? '';
  client = new Client({ name: 'diagnose-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(started.state.mcpUrl ?? ''), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  for (let i = 0; i < 100; i++) {
    const names = (await client.listTools()).tools.map((t) => t.name);
    if (['get_routes', 'tail_logs', 'list_applications'].every((n) => names.includes(n))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(async () => {
  await client?.close();
  await started?.stop();
  await rm(home, { recursive: true, force: true });
});

/** Requests the Traefik stand-in has served so far, by path (asked over its IPC channel, as the bench does). */
function traefikPaths(): Promise<Record<string, number>> {
  const sim = started.components.find((c) => c.spec.name === 'sim-traefik');
  if (!sim) throw new Error('the Traefik stand-in is not running');
  return new Promise((resolve) => {
    const onMessage = (msg: unknown) => {
      const m = msg as { type?: string; traffic?: { traefikApi?: { paths: Record<string, number> } } };
      if (m?.type !== 'homelab-sim:traffic') return;
      sim.child.off('message', onMessage);
      resolve(m.traffic?.traefikApi?.paths ?? {});
    };
    sim.child.on('message', onMessage);
    sim.child.send({ type: 'homelab-sim:traffic' });
  });
}

async function diagnose(service: string): Promise<{ summary: string; findings: Finding[]; not_checked: unknown[] }> {
  const res = await client.callTool({ name: 'diagnose_service', arguments: { service } });
  expect(res.isError ?? false).toBe(false);
  return res.structuredContent as { summary: string; findings: Finding[]; not_checked: unknown[] };
}

describe('diagnose_service names the right cause first', () => {
  it.each([
    ['nothing.home.lan', 'rule', /No Traefik router serves nothing\.home\.lan/],
    ['nextcloud.home.lan', 'rule', /nextclod\.home\.lan/],
    ['uptime', 'service', /no server up/],
    ['paperless', 'container', /paperless is exited/],
    ['jellyfin', 'auth', /Authentik has no application/],
    ['vault', 'tls', /expired/],
    ['photos', 'tls', /default self-signed certificate/],
  ])('%s -> %s', async (service, cause, what) => {
    const result = await diagnose(service);
    expect(result.findings[0]).toMatchObject({ severity: 'critical', cause });
    expect(result.findings[0]?.what).toMatch(what);
    expect(result.summary).toMatch(what);
  });

  it('suggests the exact tool call where one fixes it, and never a route to nothing that runs', async () => {
    const missing = await diagnose('nothing.home.lan');
    expect(missing.findings[0]?.fix_tool).toBeUndefined();
    expect(missing.findings[0]?.fix).toMatch(/start the app first/);
    const auth = await diagnose('jellyfin');
    expect(auth.findings[0]?.fix_tool).toMatchObject({ name: 'create_application', arguments: { proxy: { external_host: 'https://jellyfin.home.lan' } } });
  });

  it('raises no false alarm for a healthy service', async () => {
    const result = await diagnose('whoami');
    expect(result.findings.filter((f) => f.severity === 'critical' || f.severity === 'warning')).toEqual([]);
    expect(result.summary).toContain('no problem found');
    expect(result.not_checked).toEqual([]);
  });

  it('reads each object of the Traefik API once per diagnosis', async () => {
    const before = await traefikPaths();
    await diagnose('whoami');
    const after = await traefikPaths();
    const read = Object.fromEntries(Object.keys(after).filter((p) => p !== '/api/version').map((p) => [p, (after[p] ?? 0) - (before[p] ?? 0)]).filter(([, n]) => n));
    // The routes, the trace through them and its TLS check share one read of the runtime configuration.
    expect(read).toEqual({ '/api/rawdata': 1, '/api/entrypoints': 1 });
  });

  it('says what it could not check when a shard is down', async () => {
    const dozzle = started.components.find((c) => c.spec.name === 'shard-dozzle');
    dozzle?.child.kill('SIGKILL');
    await dozzle?.exited;
    for (let i = 0; i < 50 && (await client.listTools()).tools.some((t) => t.name === 'tail_logs'); i++) await new Promise((r) => setTimeout(r, 100));
    const result = await diagnose('gitea');
    expect(result.not_checked).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'container', why: expect.stringContaining('Dozzle shard is not serving') })]));
  });
});
