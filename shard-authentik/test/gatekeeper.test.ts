import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import { startAuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import {
  CreateApplicationRequest,
  FlowDesignation,
  GatekeeperServiceClient,
  ListApplicationsRequest,
  ManageFlowsRequest,
  ProxyMode,
  SyncBrandRequest,
} from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import { parseConfig, startGatekeeper } from '../src/index.js';

let dir: string;
let pki: Awaited<ReturnType<typeof ensurePki>>;

async function startPair(simOpts: Parameters<typeof startAuthentikSim>[0] = {}) {
  const sim = await startAuthentikSim(simOpts);
  const tokenFile = join(dir, `token-${Math.random().toString(16).slice(2)}`);
  await writeFile(tokenFile, `${sim.token}\n`, { mode: 0o600 });
  const id = pki.identities['shard-authentik']!;
  const shard = await startGatekeeper(parseConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: id.certFile, SHARD_TLS_KEY: id.keyFile, AUTHENTIK_URL: sim.url, AUTHENTIK_TOKEN_FILE: tokenFile }), pino({ level: 'silent' }));
  const gw = pki.identities.gateway!;
  const client = new GatekeeperServiceClient(`127.0.0.1:${shard.port}`, grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined }));
  const call = <Req, Res>(method: (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> =>
    new Promise((resolve, reject) => method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (e, r) => (e ? reject(e) : resolve(r))));
  return { sim, shard, client, call, close: async () => { client.close(); await shard.close(0); await sim.close(); } };
}

let main: Awaited<ReturnType<typeof startPair>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatekeeper-'));
  pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-authentik']);
  main = await startPair({ extraApplications: 130 });
});
afterAll(async () => {
  await main?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sync_brand', () => {
  const req = (planId = '') => SyncBrandRequest.fromPartial({ domain: 'auth.home.lan', title: 'Homelab', logo: 'https://home.lan/logo.svg', flows: { authentication: 'default-authentication-flow' }, planId });

  it('plans field by field, applies with the plan id, and a second sync is a no-op', async () => {
    const { call, client } = main;
    const planned = await call(client.syncBrand, req());
    expect(planned.created).toBe(true);
    expect(planned.plan?.changes.map((c) => c.path)).toEqual(expect.arrayContaining(['domain', 'branding_title', 'branding_logo', 'flow_authentication']));
    const applied = await call(client.syncBrand, req(planned.plan!.id));
    expect(applied).toMatchObject({ applied: true, brand: { domain: 'auth.home.lan', title: 'Homelab', flows: { authentication: 'default-authentication-flow' } } });
    const again = await call(client.syncBrand, req());
    expect(again.plan?.noOp).toBe(true);
    expect(again.message).toContain('already matches');
    await expect(call(client.syncBrand, req(planned.plan!.id))).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringContaining('already applied') });
  });

  it('lists brands with their default flows', async () => {
    const res = await main.call(main.client.listBrands, {search: ''});
    expect(res.brands.map((b) => b.domain)).toEqual(['auth.home.lan', 'authentik-default']);
  });
});

describe('create_application', () => {
  const pinchflat = (planId = '') => CreateApplicationRequest.fromPartial({ name: 'Pinchflat', slug: 'pinchflat', launchUrl: 'https://pinchflat.home.lan', proxy: { mode: ProxyMode.PROXY_MODE_FORWARD_SINGLE, externalHost: 'https://pinchflat.home.lan' }, planId });

  it('creates provider and application, keeps existing outpost bindings, returns the Traefik middleware', async () => {
    const { call, client, sim } = main;
    const outpost = sim.state.outposts[0]!;
    // A provider bound earlier (through Authentik's own UI) must survive.
    const first = await call(client.createApplication, CreateApplicationRequest.fromPartial({ name: 'Gitea', slug: 'gitea', proxy: { externalHost: 'https://gitea.home.lan' } }));
    await call(client.createApplication, CreateApplicationRequest.fromPartial({ name: 'Gitea', slug: 'gitea', proxy: { externalHost: 'https://gitea.home.lan' }, planId: first.plan!.id }));
    const before = [...(outpost.providers as number[])];
    const planned = await call(client.createApplication, pinchflat());
    expect(planned.applied).toBe(false);
    const res = await call(client.createApplication, pinchflat(planned.plan!.id));
    expect(res.applied).toBe(true);
    expect(res.created).toEqual([expect.stringMatching(/^proxy provider \d+$/), 'application pinchflat', 'outpost binding (authentik Embedded Outpost)']);
    expect(res.application).toMatchObject({ slug: 'pinchflat', providerType: 'proxy', proxyMode: 'forward_single', outposts: ['authentik Embedded Outpost'] });
    expect(res.traefikMiddleware?.address).toMatch(/\/outpost\.goauthentik\.io\/auth\/traefik$/);
    expect(outpost.providers).toEqual([...before, res.application!.providerId]);
    const again = await call(client.createApplication, pinchflat());
    expect(again.alreadyExists).toBe(true);
  });

  it('undoes what it created when a later step fails', async () => {
    const { call, client, sim } = main;
    const req = (planId = '') => CreateApplicationRequest.fromPartial({ name: 'Jellyfin', slug: 'jellyfin', proxy: { externalHost: 'https://jellyfin.home.lan' }, planId });
    const planned = await call(client.createApplication, req());
    const providersBefore = sim.state.providers.length;
    sim.failNext('/outposts/instances/', 1, 'PATCH');
    const err = await call(client.createApplication, req(planned.plan!.id)).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    expect((err as grpc.ServiceError).details).toContain('rolled back');
    expect(sim.state.providers.length).toBe(providersBefore);
    expect(sim.state.applications.some((a) => a.slug === 'jellyfin')).toBe(false);
  });

  it('lists applications beyond one page with provider type and outpost binding', async () => {
    const res = await main.call(main.client.listApplications, ListApplicationsRequest.fromPartial({}));
    expect(res.applications.length).toBe(132);
    expect(res.applications.find((a) => a.slug === 'pinchflat')).toMatchObject({ providerType: 'proxy', outposts: ['authentik Embedded Outpost'] });
  });
});

describe('manage_flows', () => {
  it('lists by designation, gets, exports YAML', async () => {
    const { call, client } = main;
    const list = await call(client.manageFlows, ManageFlowsRequest.fromPartial({ list: { designation: FlowDesignation.FLOW_DESIGNATION_INVALIDATION } }));
    expect(list.flows.map((f) => f.slug).sort()).toEqual(['default-invalidation-flow', 'default-provider-invalidation-flow']);
    const exported = await call(client.manageFlows, ManageFlowsRequest.fromPartial({ export: { slug: 'default-authentication-flow' } }));
    expect(exported.yaml).toContain('slug: default-authentication-flow');
  });

  it.each(['2026.8.3', '2026.2.6'] as const)('imports a flow (plan first) with the %s import endpoint, and deletes one', async (version) => {
    const pair = version === '2026.8.3' ? main : await startPair({ version });
    try {
      const yaml = 'version: 1\nmetadata:\n  name: Homelab login\nentries:\n  - model: authentik_flows.flow\n    identifiers:\n      slug: homelab-login\n    attrs:\n      name: Homelab login\n      title: Welcome home\n      designation: authentication\n';
      const planned = await pair.call(pair.client.manageFlows, ManageFlowsRequest.fromPartial({ import: { yaml } }));
      expect(planned.plan?.summary).toContain('homelab-login');
      const imported = await pair.call(pair.client.manageFlows, ManageFlowsRequest.fromPartial({ import: { yaml }, planId: planned.plan!.id }));
      expect(imported.applied).toBe(true);
      const got = await pair.call(pair.client.manageFlows, ManageFlowsRequest.fromPartial({ get: { slug: 'homelab-login' } }));
      expect(got.flow).toMatchObject({ title: 'Welcome home', designation: FlowDesignation.FLOW_DESIGNATION_AUTHENTICATION });
      const del = await pair.call(pair.client.manageFlows, ManageFlowsRequest.fromPartial({ delete: { slug: 'homelab-login' } }));
      await pair.call(pair.client.manageFlows, ManageFlowsRequest.fromPartial({ delete: { slug: 'homelab-login' }, planId: del.plan!.id }));
      await expect(pair.call(pair.client.manageFlows, ManageFlowsRequest.fromPartial({ get: { slug: 'homelab-login' } }))).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      if (pair !== main) await pair.close();
    }
  });
});

describe('the contract', () => {
  it('the stand-in rejects a body the real API would reject (schema-checked)', async () => {
    const res = await fetch(`${main.sim.url}/core/applications/`, { method: 'POST', headers: { authorization: `Bearer ${main.sim.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', slug: 'not a slug', open_in_new_tab: 'yes' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ slug: ['Enter a valid value.'], open_in_new_tab: [expect.any(String)] });
  });

  it('a rejected token gives a clear error and NOT_SERVING', async () => {
    const pair = await startPair();
    try {
      pair.sim.revokeToken();
      const err = await pair.call(pair.client.listBrands, { search: '' }).catch((e: grpc.ServiceError) => e);
      expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((err as grpc.ServiceError).details).toContain('Authentik rejected the API token');
      await pair.shard.health.recheck();
      expect(pair.shard.health.status()).toMatchObject({ serving: false, reason: expect.stringContaining('rejected the API token') });
    } finally {
      await pair.close();
    }
  });
});
