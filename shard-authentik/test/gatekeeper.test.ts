import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import { FLOW_BLUEPRINTS, readFixtureBlueprint } from '@homelab-mcp/homelab-sim/authentik/blueprints.js';
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
  return { sim, shard, client, call, callWithin: <Req, Res>(ms: number, method: (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> =>
    new Promise((resolve, reject) => method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + ms }, (e, r) => (e ? reject(e) : resolve(r)))), close: async () => { client.close(); await shard.close(0); await sim.close(); } };
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

describe('manage_flows import reads the blueprint as YAML, within stated limits', () => {
  const plan = (yaml: string) => main.call(main.client.manageFlows, ManageFlowsRequest.fromPartial({ import: { yaml } }));
  const refusal = (yaml: string) => plan(yaml).then(() => undefined, (e: grpc.ServiceError) => e);

  it('refuses 200,000 blank lines at once, naming the field and the limit, while other calls are answered within their deadline', async () => {
    // Before: two multi-line regexes backtracked over every blank line (quadratic) and blocked the shard for tens of seconds.
    const attack = `version: 1\n${'\n'.repeat(200_000)}entries:\n  - model: authentik_flows.flow\n    identifiers:\n      slug: x\n`;
    const [err, brands, flows] = await Promise.all([
      refusal(attack),
      main.callWithin(10_000, main.client.listBrands, { search: '' }),
      main.callWithin(10_000, main.client.manageFlows, ManageFlowsRequest.fromPartial({ get: { slug: 'default-authentication-flow' } })),
    ]);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toContain('import.yaml');
    expect(err?.details).toContain('at most 10000 lines');
    expect(brands.brands.length).toBeGreaterThan(0);
    expect(flows.flow?.slug).toBe('default-authentication-flow');
  }, 120_000);

  it('plans the largest blueprint the limits allow while other calls are answered', async () => {
    // 256 KiB on one line: a flow sequence of 87,000 items, the costliest shape found for the parser.
    const head = 'version: 1\nentries:\n  - model: authentik_flows.flow\n    identifiers:\n      slug: big\n    attrs:\n      x: [';
    const yaml = `${head}${'a, '.repeat(Math.floor((262_144 - head.length - 2) / 3))}]\n`;
    const [planned, brands] = await Promise.all([plan(yaml), main.callWithin(10_000, main.client.listBrands, { search: '' })]);
    expect(planned.plan?.summary).toContain('big');
    expect(brands.brands.length).toBeGreaterThan(0);
    expect(await refusal(`${yaml}#${'x'.repeat(10)}\n`)).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('at most 262144 bytes') });
  });

  it('accepts Authentik\'s own exports and every Authentik tag, in any node kind', async () => {
    for (const file of FLOW_BLUEPRINTS) {
      const planned = await plan(readFixtureBlueprint(file));
      expect(planned.plan?.summary).toMatch(/^import flow blueprint "Default - /);
    }
    const tagged = [
      'version: 1',
      'metadata: { name: Tagged }',
      'context: { slug: from-context }',
      'entries:',
      '  flows:',
      '    - model: authentik_flows.flow',
      '      id: flow',
      '      identifiers: { slug: !Context slug }',
      '      attrs:',
      '        name: !Format [\'%s login\', !Env [HOMELAB, home]]',
      '        title: !If [!Condition [AND, !Context a, true], yes, no]',
      '        background: !File /dev/null',
      '        designation: authentication',
      '    - model: authentik_flows.flow',
      '      identifiers: { slug: plain-slug }',
      '  stages:',
      '    - model: authentik_flows.flowstagebinding',
      '      identifiers:',
      '        target: !KeyOf flow',
      '        stage: !Find [authentik_stages_password.passwordstage, [name, pw]]',
      '        order: !Index 0',
      '      attrs:',
      '        policy: !FindObject { model: authentik_policies.policy, query: { name: x } }',
      '        evaluate_on_plan: !AtIndex [!ParseJSON \'[true]\', 0]',
      '        items: !Enumerate [!Context items, SEQ, !Value 0]',
      '    - model: authentik_blueprints.metaapplyblueprint',
      '      attrs: !Env [BLUEPRINT_ATTRS, {}]',
    ].join('\n');
    const planned = await plan(tagged);
    expect(planned.plan?.summary).toBe('import flow blueprint "Tagged" (!Context slug, plain-slug; 4 entries)');
    expect(planned.plan?.changes.map((c) => c.path)).toEqual(['flow !Context slug', 'flow plain-slug']);
  });

  it.each([
    ['bad YAML, with the line', 'version: 1\nentries:\n  - model: authentik_flows.flow\n   identifiers: {slug: x}\n', 'import.yaml: is not valid YAML at line 4'],
    ['an unknown tag', 'version: 1\nentries:\n  - model: authentik_flows.flow\n    identifiers: { slug: !Nope x }\n', 'unknown scalar tag !<!Nope> (Authentik\'s tags are !KeyOf, !Find'],
    ['no entries', 'version: 1\nmetadata: { name: x }\n', 'it has no "entries" list'],
    ['a list instead of a mapping', '- model: authentik_flows.flow\n', 'the document must be a mapping'],
    ['an entry without a model', 'version: 1\nentries:\n  - identifiers: { slug: x }\n', 'entries[0].model must be a model name'],
    ['no flow entry', 'version: 1\nentries:\n  - model: authentik_stages_dummy.dummystage\n    identifiers: { name: x }\n', 'no entry has model authentik_flows.flow'],
    ['the model only in a comment', 'version: 1\n# model: authentik_flows.flow\nentries:\n  - model: authentik_core.group\n', 'no entry has model authentik_flows.flow'],
    ['nesting deeper than 64', `version: 1\nentries:\n  - model: authentik_flows.flow\n    attrs: { x: ${'['.repeat(80)}${']'.repeat(80)} }\n`, 'maxDepth (64)'],
    ['more than 100 aliases', `version: 1\nentries:\n  - model: authentik_flows.flow\n    attrs: { a: &a [x], b: [${'*a, '.repeat(101)}] }\n`, 'import.yaml: is not valid YAML'],
  ])('refuses %s with an error naming import.yaml', async (_what, yaml, message) => {
    const err = await refusal(yaml);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toContain(message);
    expect(err?.details).toContain('import.yaml');
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
