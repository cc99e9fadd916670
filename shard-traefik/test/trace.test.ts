import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { loadScenario, scenarioNames, startScenarioTraefik, type Scenario } from '@homelab-mcp/homelab-sim/scenarios.js';
import type { TraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import { NavigatorServiceClient, NearMissKind, TraceOutcome, TraceRequestRequest, type TraceRequestResponse } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { parseConfig, startNavigator } from '../src/index.js';

let dir: string;
let pki: Awaited<ReturnType<typeof ensurePki>>;
const names = await scenarioNames();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trace-'));
  pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-traefik']);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The scenario's Traefik stand-in and a Navigator shard on it, over mTLS gRPC. */
async function open(s: Scenario) {
  const sim: TraefikSim = await startScenarioTraefik(s, join(dir, s.name, 'dynamic'));
  const id = pki.identities['shard-traefik']!;
  const shard: RunningShard = await startNavigator(parseConfig({
    SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: id.certFile, SHARD_TLS_KEY: id.keyFile,
    TRAEFIK_API: sim.apiUrl, TRAEFIK_DYNAMIC_DIR: sim.dynamicDir, TRAEFIK_WEBSECURE_ADDRESS: sim.websecureAddress,
  }), pino({ level: 'silent' }));
  const gw = pki.identities.gateway!;
  const client = new NavigatorServiceClient(`127.0.0.1:${shard.port}`, grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined }));
  const trace = (req: Partial<TraceRequestRequest>) => new Promise<TraceRequestResponse>((resolve, reject) => client.traceRequest(TraceRequestRequest.fromPartial(req), new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (e, r) => (e ? reject(e) : resolve(r))));
  const close = async () => {
    client.close();
    await shard.close(0);
    await sim.close();
  };
  return { sim, trace, close };
}

const traceOf = (s: Scenario) => ({ url: s.request.url, method: s.request.method ?? '', headers: s.request.headers ?? {}, clientIp: s.request.clientIp ?? '' });

describe('trace_request answers each broken homelab as Traefik would route it', () => {
  it('has at least 12 scenarios, each naming its cause', async () => {
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const n of names) expect((await loadScenario(n)).cause.detail).not.toBe('');
  });

  it.each(names)('%s', async (name) => {
    const s = await loadScenario(name);
    const { sim, trace, close } = await open(s);
    try {
      expect(sim.lastError()).toBeUndefined();
      const res = await trace({ ...traceOf(s), skipTlsCheck: s.expect.certificateOk === undefined });
      const e = s.expect as { outcome: string; winner?: string; firstWinner?: string; hops?: number; httpStatus?: number; summary?: string; noRouterNamed?: string; servers?: string[]; certificateOk?: boolean; nearMiss?: { router: string; kind: string; detail?: string }; middleware?: { name: string; type: string; effect: string } };
      expect([res.summary, TraceOutcome[res.outcome]]).toEqual([res.summary, `TRACE_OUTCOME_${e.outcome}`]);
      const last = res.hops.at(-1)!;
      if (e.hops) expect(res.hops).toHaveLength(e.hops);
      if (e.winner) expect(last.winner).toBe(e.winner);
      if (e.firstWinner) expect(res.hops[0]?.winner).toBe(e.firstWinner);
      if (e.httpStatus) expect(res.httpStatus).toBe(e.httpStatus);
      if (e.summary) expect(res.summary).toContain(e.summary);
      if (e.noRouterNamed) expect(res.hops.flatMap((h) => [...h.routers.map((r) => r.name), ...h.nearMisses.map((m) => m.router)])).not.toContain(e.noRouterNamed);
      if (e.servers) expect(last.service?.servers.map((x) => `${x.url} ${x.status}`)).toEqual(e.servers);
      if (e.certificateOk !== undefined) expect(last.tls?.certificate?.ok).toBe(e.certificateOk);
      if (e.nearMiss) {
        const miss = last.nearMisses.find((m) => m.router === e.nearMiss!.router);
        expect(miss && NearMissKind[miss.kind]).toBe(`NEAR_MISS_KIND_${e.nearMiss.kind}`);
        if (e.nearMiss.detail) expect(miss?.detail).toContain(e.nearMiss.detail);
      }
      if (e.middleware) {
        const mw = last.middlewares.find((m) => m.name === e.middleware!.name);
        expect(mw).toMatchObject({ type: e.middleware.type });
        expect(mw?.effect).toContain(e.middleware.effect);
      }
    } finally {
      await close();
    }
  });
});

describe('trace_request step by step', () => {
  it('shows the redirect router Traefik creates for web, then every router on websecure and why the app\'s router missed', async () => {
    const { trace, close } = await open(await loadScenario('web-only-router'));
    try {
      const res = await trace({ url: 'http://linkding.home.lan/' });
      const [first, second] = res.hops;
      expect(first?.entryPoint).toMatchObject({ name: 'web', address: ':80', tls: false, redirection: 'websecure (https, permanent)' });
      expect(first?.routers[0]).toMatchObject({ name: 'web-to-websecure@internal', priority: '9223372036854775806', matched: true });
      expect(first?.middlewares[0]).toMatchObject({ name: 'redirect-web-to-websecure@internal', type: 'redirectscheme' });
      expect(first?.redirectTo).toBe('https://linkding.home.lan/');
      expect(second?.entryPoint?.name).toBe('websecure');
      expect(second?.winner).toBe('');
      expect(second?.nearMisses[0]?.detail).toContain('listens on web, not websecure');
      expect(res.httpStatus).toBe(404);
    } finally {
      await close();
    }
  });

  it('computes priorities as Traefik does: explicit, else the length of the rule', async () => {
    const { trace, close } = await open(await loadScenario('priority-fight'));
    try {
      const res = await trace({ url: 'https://shop.home.lan/api/cart', skipTlsCheck: true });
      const routers = res.hops[0]!.routers.map((r) => [r.name, r.priority, r.matched]);
      const apiRule = 'Host(`shop.home.lan`) && PathPrefix(`/api`)';
      expect(routers).toEqual([['legacy@file', '100', true], ['api@file', String(apiRule.length), true]]);
      expect(res.hops[0]!.nearMisses[0]?.detail).toContain(`legacy@file has priority 100 over its ${apiRule.length}`);
    } finally {
      await close();
    }
  });

  it('reports the certificate served for the SNI on HTTPS, the same check as check_ssl_status', async () => {
    const { trace, close } = await open(await loadScenario('healthy-with-redirect'));
    try {
      const res = await trace({ url: 'https://gitea.home.lan/' });
      expect(res.hops[0]?.tls).toMatchObject({ router: 'gitea@docker', routerTls: true, certResolver: 'letsencrypt', certificate: { host: 'gitea.home.lan', ok: true, nameMatches: true } });
      const none = await trace({ url: 'https://unknown.home.lan/' });
      expect(none.hops[0]?.tls?.certificate).toMatchObject({ traefikDefault: true, ok: false });
    } finally {
      await close();
    }
  });

  it('expands a weighted service down to its servers and shows which side is dead', async () => {
    const { trace, close } = await open(await loadScenario('weighted-dead-side'));
    try {
      const svc = (await trace({ url: 'https://app.home.lan/', skipTlsCheck: true })).hops[0]!.service!;
      expect(svc).toMatchObject({ name: 'app@file', type: 'weighted' });
      expect(svc.children.map((c) => [c.name, c.role, c.servers.map((x) => x.status)])).toEqual([['app-blue@file', 'weight 3', ['UP']], ['app-green@file', 'weight 1', ['DOWN']]]);
    } finally {
      await close();
    }
  });

  it('runs a chain on the path the middlewares before it left, and stops where a middleware answers', async () => {
    const s: Scenario = {
      name: 'chain-after-strip', description: 'a chain behind a stripPrefix', cause: { class: 'none', detail: '' },
      certificates: { 'docs.home.lan': 'valid' },
      dynamic: { http: {
        routers: { docs: { rule: 'Host(`docs.home.lan`) && PathPrefix(`/wiki`)', entryPoints: ['websecure'], service: 'docs', tls: {}, middlewares: ['strip-wiki', 'secured'] } },
        middlewares: { 'strip-wiki': { stripPrefix: { prefixes: ['/wiki'] } }, secured: { chain: { middlewares: ['add-v1', 'login'] } }, 'add-v1': { addPrefix: { prefix: '/v1' } }, login: { basicAuth: { users: ['ann:$apr1$x$y'] } } },
        services: { docs: { loadBalancer: { servers: [{ url: 'http://172.20.0.9:8080' }] } } },
      } } as Scenario['dynamic'],
      request: { url: 'https://docs.home.lan/wiki/page' }, expect: {},
    };
    const { trace, close } = await open(s);
    try {
      const res = await trace({ url: s.request.url, skipTlsCheck: true });
      const hop = res.hops[0]!;
      expect(hop.middlewares.map((m) => [m.name, m.type])).toEqual([['strip-wiki@file', 'stripprefix'], ['secured@file', 'chain']]);
      expect(hop.middlewares[0]?.effect).toContain('the service sees /page');
      const inner = hop.middlewares[1]!.chain;
      expect(inner.map((m) => m.name)).toEqual(['add-v1@file', 'login@file']);
      expect(inner[0]?.effect).toBe('the service sees /v1/page');
      expect(inner[1]?.effect).toContain('401 without an Authorization header');
      expect(res.httpStatus).toBe(401);
      const signedIn = await trace({ url: s.request.url, headers: { authorization: 'Basic YW5uOng=' }, skipTlsCheck: true });
      expect(signedIn.outcome).toBe(TraceOutcome.TRACE_OUTCOME_ROUTED);
    } finally {
      await close();
    }
  });

  it('refuses a URL it cannot trace with a clear error', async () => {
    const { trace, close } = await open(await loadScenario('host-typo'));
    try {
      await expect(trace({ url: 'not a url' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('url is not a URL') });
      await expect(trace({ url: 'ftp://a.lan/' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      const noEp = await trace({ url: 'http://nextcloud.home.lan:8443/' });
      expect(noEp.outcome).toBe(TraceOutcome.TRACE_OUTCOME_NO_ENTRY_POINT);
      expect(noEp.summary).toContain('No entry point listens on port 8443');
    } finally {
      await close();
    }
  });
});
