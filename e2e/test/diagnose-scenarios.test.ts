import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { loadCliConfig } from '@homelab-mcp/cli/config.js';
import { startAll, type Started } from '@homelab-mcp/cli/start.js';
import type { DiagnoseResult } from '@homelab-mcp/composites';
import { startAuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import { startDozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import { loadScenario, scenarioDozzleContainers, scenarioNames, seedScenarioAuthentik, startScenarioTraefik, type Scenario } from '@homelab-mcp/homelab-sim/scenarios.js';
import { startSwitchboard, type Switchboard } from './support/switchboard.js';

const TOKEN = 'scenario-token-0123456789abcdef';
const names = await scenarioNames();
let home: string;
let started: Started;
let client: Client;
const boards: Record<'api' | 'websecure' | 'dozzle' | 'authentik', Switchboard> = {} as never;
let closeScenario: () => Promise<void> = async () => undefined;

/** The scenario's stand-ins (Traefik, Dozzle, Authentik), behind the addresses the shards were given. */
async function openScenario(s: Scenario): Promise<void> {
  await closeScenario();
  const traefik = await startScenarioTraefik(s, join(home, 'scenarios', s.name, 'dynamic'));
  const dozzle = await startDozzleSim({ containers: scenarioDozzleContainers(s) });
  const authentik = await startAuthentikSim({ token: TOKEN });
  seedScenarioAuthentik(authentik, s.authentik);
  boards.api.point(new URL(traefik.apiUrl).origin);
  boards.websecure.point(traefik.websecureAddress);
  boards.dozzle.point(new URL(dozzle.url).origin);
  boards.authentik.point(authentik.origin);
  closeScenario = async () => {
    await Promise.all([traefik.close(), dozzle.close(), authentik.close()]);
  };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'diagnose-scenarios-'));
  for (const k of ['api', 'websecure', 'dozzle', 'authentik'] as const) boards[k] = await startSwitchboard();
  await openScenario(await loadScenario(names[0]!));
  await writeFile(join(home, 'authentik-token'), TOKEN, { mode: 0o600 });
  const env = {
    TRAEFIK_API: `http://127.0.0.1:${boards.api.port}/api`, TRAEFIK_DYNAMIC_DIR: join(home, 'dynamic'), TRAEFIK_WEBSECURE_ADDRESS: `127.0.0.1:${boards.websecure.port}`,
    DOZZLE_API: `http://127.0.0.1:${boards.dozzle.port}/api`, AUTHENTIK_URL: `http://127.0.0.1:${boards.authentik.port}/api/v3`, AUTHENTIK_TOKEN_FILE: join(home, 'authentik-token'),
  };
  const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home, HOMELAB_MCP_GATEWAY_PORT: '0', HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0', HOMELAB_MCP_SHARD_DOZZLE_PORT: '0', HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0', HOMELAB_MCP_LOG_LEVEL: 'error' });
  let printed = '';
  const out = { write: (c: string) => ((printed += c), true) } as unknown as NodeJS.WritableStream;
  started = await startAll(cfg, pino({ level: 'silent' }), { only: new Set(['shard-traefik', 'shard-dozzle', 'shard-authentik', 'gateway']), env, out });
  client = new Client({ name: 'diagnose-scenarios', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(started.state.mcpUrl ?? ''), { requestInit: { headers: { authorization: `Bearer ${/token {9}(\S+)/.exec(printed)?.[1] ?? ''}` } } }));
  await allServing();
}, 180_000);

/** Switching cuts the shards' upstream connections; wait until every shard serves again (its tools are listed). */
async function allServing(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const listed = (await client.listTools()).tools.map((t) => t.name);
    if (['trace_request', 'tail_logs', 'list_applications'].every((n) => listed.includes(n))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  await client?.close();
  await started?.stop();
  await closeScenario();
  await Promise.all(Object.values(boards).map((b) => b.close()));
  await rm(home, { recursive: true, force: true });
});

/**
 * Switching scenarios cuts the shards' open upstream connections (the
 * switchboard), so a health probe in flight then fails and its shard stops
 * serving until its next probe, possibly after allServing() saw the tools of
 * before. A diagnosis that could check nothing else only because a shard was
 * not serving is asked again once every shard serves.
 */
async function diagnose(s: Scenario): Promise<DiagnoseResult> {
  for (let attempt = 1; ; attempt++) {
    const res = await client.callTool({ name: 'diagnose_service', arguments: { service: s.request.url, ...(s.request.clientIp ? { client_ip: s.request.clientIp } : {}) } });
    expect(res.isError ?? false).toBe(false);
    const result = res.structuredContent as unknown as DiagnoseResult;
    const shardAway = result.not_checked.length > 0 && result.not_checked.every((c) => /shard is not serving/.test(c.why));
    if (!shardAway || attempt === 3) return result;
    await new Promise((r) => setTimeout(r, 500));
    await allServing();
  }
}

/** The Watchman may still hold the previous scenario's containers: wait until it lists this one's. */
async function watchmanSees(s: Scenario): Promise<void> {
  const want = JSON.stringify((s.containers ?? []).map((c) => c.name).sort());
  for (let i = 0; i < 300; i++) {
    const res = await client.callTool({ name: 'list_containers', arguments: { all: true } });
    const got = ((res.structuredContent as { containers?: { name: string }[] } | undefined)?.containers ?? []).map((c) => c.name).sort();
    if (!res.isError && JSON.stringify(got) === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('diagnose_service names each broken homelab\'s cause first', () => {
  it('has at least 25 broken homelabs and healthy controls', async () => {
    const all = await Promise.all(names.map(loadScenario));
    expect(all.filter((s) => s.cause.class !== 'none').length).toBeGreaterThanOrEqual(25);
    expect(all.filter((s) => s.cause.class === 'none').length).toBeGreaterThanOrEqual(2);
  });

  it.each(names)('%s', async (name) => {
    const s = await loadScenario(name);
    await openScenario(s);
    await allServing();
    await watchmanSees(s);
    const result = await diagnose(s);
    const brief = { first: result.findings[0] && `${result.findings[0].cause}: ${result.findings[0].what}`, checks: result.checks };
    expect(result.not_checked).toEqual([]);
    // No part of a basicAuth secret that is no hash (often the password itself) reaches the model.
    for (const c of s.containers ?? []) {
      for (const [key, value] of Object.entries(c.labels ?? {})) {
        if (!/\.basicauth\.users$/i.test(key)) continue;
        for (const secret of String(value).split(',').map((u) => u.slice(u.indexOf(':') + 1)).filter((x) => x.length >= 3 && !x.startsWith('$'))) {
          expect({ secret, shown: JSON.stringify(result).includes(secret.slice(0, 3)) }).toEqual({ secret, shown: false });
        }
      }
    }
    if (s.cause.class === 'none') {
      expect({ ...brief, alarms: result.findings.filter((f) => f.severity !== 'info') }).toEqual({ ...brief, alarms: [] });
      expect(result.summary).toContain('no problem found.');
      return;
    }
    expect(brief.first).toMatch(new RegExp(`^${s.cause.class}: `));
    expect(result.findings[0]?.severity).toBe('critical');
    expect(result.findings[0]?.fix).not.toBe('');
    if (s.cause.fix) expect(result.findings[0]?.fix).toContain(s.cause.fix);
    expect(result.summary).not.toContain('no problem found');
  });
});
