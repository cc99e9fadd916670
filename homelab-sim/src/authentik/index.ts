import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as yaml from 'js-yaml';
import { FLOW_BLUEPRINTS, parseBlueprint, readFixtureBlueprint } from './blueprints.js';
import { completeResponse, hasPath, validateBody, type AuthentikVersion } from './contract.js';
import { createOidcIssuer, type AccessTokenRequest, type OAuthLogin } from './oidc.js';

export type { AuthentikVersion } from './contract.js';
export type { AccessTokenRequest, OAuthLogin } from './oidc.js';

export interface AuthentikSimOptions {
  version?: AuthentikVersion;
  token?: string;
  host?: string;
  port?: number;
  /** Extra applications to seed (for paging tests). */
  extraApplications?: number;
}

export interface AuthentikSim {
  /** Base URL including /api/v3 (what AUTHENTIK_URL may be; the shard also accepts the bare origin). */
  url: string;
  origin: string;
  token: string;
  version: AuthentikVersion;
  /** Makes the next `count` requests whose path starts with `pathPrefix` (and method, if given) fail with 500. */
  failNext(pathPrefix: string, count?: number, method?: string): void;
  revokeToken(): void;
  /** Issuer URL of an OAuth2/OpenID provider (/application/o/<slug>/). */
  oauthIssuer(slug: string): string;
  /** Signs an access token as that provider would issue it. */
  issueAccessToken(request: AccessTokenRequest): Promise<string>;
  /** Signs a person in: the authorization endpoint answers their client's code flow (PKCE) without a login page. */
  signInOAuthUser(login: OAuthLogin | undefined): void;
  state: State;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;
interface State {
  brands: Obj[];
  flows: Obj[];
  applications: Obj[];
  providers: Obj[];
  outposts: Obj[];
  nextProviderPk: number;
}

const EMBEDDED = 'goauthentik.io/outposts/embedded';

function seed(extraApps: number): State {
  const flows: Obj[] = [];
  for (const file of FLOW_BLUEPRINTS) {
    for (const e of parseBlueprint(readFixtureBlueprint(file)).entries) {
      if (e.model !== 'authentik_flows.flow') continue;
      const slug = String(e.identifiers?.slug);
      const stages = parseBlueprint(readFixtureBlueprint(file)).entries.filter((x) => x.model === 'authentik_flows.flowstagebinding').length;
      flows.push({ pk: randomUUID(), slug, name: String(e.attrs?.name ?? slug), title: String(e.attrs?.title ?? ''), designation: String(e.attrs?.designation ?? ''), stages: Array.from({ length: stages }, () => randomUUID()), blueprint: file });
    }
  }
  const bySlug = (s: string) => flows.find((f) => f.slug === s)?.pk ?? null;
  const brands: Obj[] = [{
    brand_uuid: randomUUID(), domain: 'authentik-default', default: true, branding_title: 'authentik',
    branding_logo: '/static/dist/assets/icons/icon_left_brand.svg', branding_favicon: '/static/dist/assets/icons/icon.png',
    flow_authentication: bySlug('default-authentication-flow'), flow_invalidation: bySlug('default-invalidation-flow'),
    flow_recovery: null, flow_unenrollment: null, flow_user_settings: null, flow_device_code: null, attributes: {},
  }];
  const applications: Obj[] = Array.from({ length: extraApps }, (_, i) => ({ pk: randomUUID(), name: `App ${i}`, slug: `app-${String(i).padStart(3, '0')}`, provider: null, group: '', meta_launch_url: '', open_in_new_tab: false, policy_engine_mode: 'any' }));
  return {
    brands,
    flows,
    applications,
    providers: [],
    outposts: [{ pk: randomUUID(), name: 'authentik Embedded Outpost', type: 'proxy', providers: [], managed: EMBEDDED, config: {}, token_identifier: 'ak-outpost-embedded-api', refresh_interval_s: 300 }],
    nextProviderPk: 1,
  };
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json', Vary: 'Accept' });
  res.end(JSON.stringify(body));
}

function page(res: ServerResponse, url: URL, items: Obj[]): void {
  const size = Math.max(1, Math.min(1000, Number(url.searchParams.get('page_size') ?? 100) || 100));
  const current = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const totalPages = Math.max(1, Math.ceil(items.length / size));
  if (current > totalPages) return send(res, 404, { detail: 'Invalid page.' });
  const start = (current - 1) * size;
  const results = items.slice(start, start + size);
  send(res, 200, {
    pagination: { next: current < totalPages ? current + 1 : 0, previous: current > 1 ? current - 1 : 0, count: items.length, current, total_pages: totalPages, start_index: items.length ? start + 1 : 0, end_index: start + results.length },
    results,
    autocomplete: {},
  });
}

async function readBody(req: IncomingMessage): Promise<{ json?: unknown; raw: Buffer }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  if ((req.headers['content-type'] ?? '').includes('application/json') && raw.length) {
    try {
      return { json: JSON.parse(raw.toString('utf8')), raw };
    } catch {
      return { raw };
    }
  }
  return { raw };
}

/** Reads the `file` part of a multipart/form-data body. */
async function multipartFile(req: IncomingMessage, raw: Buffer): Promise<Record<string, string>> {
  const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
  const out: Record<string, string> = {};
  for (const [k, v] of form.entries()) out[k] = typeof v === 'string' ? v : await v.text();
  return out;
}

/**
 * An Authentik stand-in for the endpoints the Gatekeeper uses, checked
 * against Authentik's own OpenAPI schema of the emulated release.
 */
export async function startAuthentikSim(opts: AuthentikSimOptions = {}): Promise<AuthentikSim> {
  const version = opts.version ?? '2026.8.3';
  let token: string | undefined = opts.token ?? randomBytes(24).toString('base64url');
  const state = seed(opts.extraApplications ?? 0);
  const failures: { prefix: string; count: number; method?: string | undefined }[] = [];

  const providerView = (p: Obj) => {
    const app = state.applications.find((a) => a.provider === p.pk);
    return completeResponse(version, p.kind === 'proxy' ? 'ProxyProvider' : 'OAuth2Provider', {
      ...p,
      assigned_application_slug: app?.slug ?? '',
      assigned_application_name: app?.name ?? '',
      outpost_set: state.outposts.filter((o) => (o.providers as number[]).includes(p.pk as number)).map((o) => o.name),
    });
  };
  const appView = (a: Obj) => {
    const p = state.providers.find((x) => x.pk === a.provider);
    return completeResponse(version, 'Application', { ...a, pbm_uuid: a.pk, launch_url: a.meta_launch_url || (p?.external_host as string | undefined) || null, provider_obj: p ? completeResponse(version, 'Provider', { pk: p.pk, name: p.name, component: p.component, meta_model_name: p.meta_model_name, verbose_name: p.verbose_name, verbose_name_plural: p.verbose_name_plural }) : null });
  };
  const flowView = (f: Obj) => completeResponse(version, 'Flow', { pk: f.pk, policybindingmodel_ptr_id: f.pk, slug: f.slug, name: f.name, title: f.title, designation: f.designation, stages: f.stages, policies: [], cache_count: 0, export_url: `/api/v3/flows/instances/${String(f.slug)}/export/` });
  const flowPk = (slug: unknown) => state.flows.find((f) => f.pk === slug)?.pk;

  let origin = '';
  const oidc = await createOidcIssuer(() => origin, version);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://authentik');
    if (req.method === 'GET' && oidc.handle(url.pathname, res)) return;
    if (await oidc.handleCodeFlow(req, res, url)) return;
    if (!url.pathname.startsWith('/api/v3/')) return send(res, 404, { detail: 'Not found.' });
    const path = url.pathname.slice('/api/v3'.length);
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization;
    if (!auth) return send(res, 403, { detail: 'Authentication credentials were not provided.' });
    if (!auth.startsWith('Bearer ')) return send(res, 403, { detail: 'Unsupported authentication type' });
    if (!token || auth.slice(7) !== token) return send(res, 403, { detail: 'Token invalid/expired' });
    const f = failures.find((x) => path.startsWith(x.prefix) && (!x.method || x.method === method) && x.count > 0);
    if (f) {
      f.count--;
      return send(res, 500, { detail: 'A server error occurred.' });
    }
    const { json, raw } = await readBody(req);
    const body = (json ?? {}) as Obj;
    const invalid = (schema: string) => {
      const errors = validateBody(version, schema, json ?? {});
      if (errors) send(res, 400, errors);
      return Boolean(errors);
    };
    let m: RegExpExecArray | null;

    if (path === '/core/users/me/' && method === 'GET') return send(res, 200, completeResponse(version, 'SessionUser', { user: completeResponse(version, 'UserSelf', { pk: 1, username: 'akadmin', name: 'authentik Default Admin', is_active: true, is_superuser: true, groups: [], roles: [], email: 'admin@home.lan', avatar: '', uid: 'akadmin', settings: {}, type: 'internal', system_permissions: [] }), users: [] }));
    if (path === '/admin/version/' && method === 'GET') return send(res, 200, { version_current: version, version_latest: version, version_latest_valid: true, build_hash: '', outdated: false, outpost_outdated: false });
    if (path === '/root/config/' && method === 'GET') return send(res, 200, { capabilities: [], error_reporting: { enabled: false } });

    if (path === '/core/brands/') {
      if (method === 'GET') {
        const d = url.searchParams.get('domain');
        const s = url.searchParams.get('search')?.toLowerCase();
        return page(res, url, state.brands.filter((b) => (!d || b.domain === d) && (!s || `${String(b.domain)} ${String(b.branding_title)}`.toLowerCase().includes(s))));
      }
      if (method === 'POST') {
        if (invalid('BrandRequest')) return;
        if (state.brands.some((b) => b.domain === body.domain)) return send(res, 400, { domain: ['brand with this domain already exists.'] });
        const b = completeResponse(version, 'Brand', { brand_uuid: randomUUID(), default: false, branding_title: 'authentik', branding_logo: '/static/dist/assets/icons/icon_left_brand.svg', branding_favicon: '/static/dist/assets/icons/icon.png', attributes: {}, ...body });
        state.brands.push(b);
        return send(res, 201, b);
      }
    }
    if ((m = /^\/core\/brands\/([0-9a-f-]{36})\/$/.exec(path))) {
      const b = state.brands.find((x) => x.brand_uuid === m?.[1]);
      if (!b) return send(res, 404, { detail: 'No Brand matches the given query.' });
      if (method === 'GET') return send(res, 200, b);
      if (method === 'PATCH' || method === 'PUT') {
        if (invalid(method === 'PATCH' ? 'PatchedBrandRequest' : 'BrandRequest')) return;
        Object.assign(b, body);
        return send(res, 200, b);
      }
      if (method === 'DELETE') {
        state.brands.splice(state.brands.indexOf(b), 1);
        return send(res, 204);
      }
    }

    if (path === '/core/applications/') {
      if (method === 'GET') {
        const slug = url.searchParams.get('slug');
        const s = url.searchParams.get('search')?.toLowerCase();
        const list = state.applications.filter((a) => (!slug || a.slug === slug) && (!s || `${String(a.name)} ${String(a.slug)}`.toLowerCase().includes(s)));
        return page(res, url, list.sort((a, b) => String(a.name).localeCompare(String(b.name))).map(appView));
      }
      if (method === 'POST') {
        if (invalid('ApplicationRequest')) return;
        if (state.applications.some((a) => a.slug === body.slug)) return send(res, 400, { slug: ['Application with this slug already exists.'] });
        if (body.provider != null && !state.providers.some((p) => p.pk === body.provider)) return send(res, 400, { provider: [`Invalid pk "${String(body.provider)}" - object does not exist.`] });
        const a = { pk: randomUUID(), provider: null, group: '', meta_launch_url: '', open_in_new_tab: false, policy_engine_mode: 'any', ...body };
        state.applications.push(a);
        return send(res, 201, appView(a));
      }
    }
    if ((m = /^\/core\/applications\/([-a-zA-Z0-9_]+)\/$/.exec(path))) {
      const a = state.applications.find((x) => x.slug === m?.[1]);
      if (!a) return send(res, 404, { detail: 'No Application matches the given query.' });
      if (method === 'GET') return send(res, 200, appView(a));
      if (method === 'DELETE') {
        state.applications.splice(state.applications.indexOf(a), 1);
        return send(res, 204);
      }
    }

    if ((m = /^\/providers\/(proxy|oauth2)\/$/.exec(path))) {
      const kind = m[1] as 'proxy' | 'oauth2';
      if (method === 'GET') return page(res, url, state.providers.filter((p) => p.kind === kind).map(providerView));
      if (method === 'POST') {
        if (invalid(kind === 'proxy' ? 'ProxyProviderRequest' : 'OAuth2ProviderRequest')) return;
        if (state.providers.some((p) => p.name === body.name)) return send(res, 400, { name: ['provider with this name already exists.'] });
        for (const k of ['authorization_flow', 'invalidation_flow']) if (!flowPk(body[k])) return send(res, 400, { [k]: [`Invalid pk "${String(body[k])}" - object does not exist.`] });
        const p = {
          pk: state.nextProviderPk++,
          kind,
          component: kind === 'proxy' ? 'ak-provider-proxy-form' : 'ak-provider-oauth2-form',
          meta_model_name: kind === 'proxy' ? 'authentik_providers_proxy.proxyprovider' : 'authentik_providers_oauth2.oauth2provider',
          verbose_name: kind === 'proxy' ? 'Proxy Provider' : 'OAuth2/OpenID Provider',
          verbose_name_plural: kind === 'proxy' ? 'Proxy Providers' : 'OAuth2/OpenID Providers',
          client_id: (body.client_id as string | undefined) ?? randomBytes(20).toString('hex'),
          ...(kind === 'proxy' ? { mode: 'proxy', redirect_uris: [] } : { client_type: 'confidential' }),
          ...body,
        };
        state.providers.push(p);
        return send(res, 201, providerView(p));
      }
    }
    if ((m = /^\/providers\/(proxy|oauth2)\/(\d+)\/$/.exec(path))) {
      const p = state.providers.find((x) => x.kind === m?.[1] && x.pk === Number(m?.[2]));
      if (!p) return send(res, 404, { detail: 'No Provider matches the given query.' });
      if (method === 'GET') return send(res, 200, providerView(p));
      if (method === 'DELETE') {
        state.providers.splice(state.providers.indexOf(p), 1);
        for (const o of state.outposts) o.providers = (o.providers as number[]).filter((x) => x !== p.pk);
        return send(res, 204);
      }
    }
    if (path === '/providers/all/' && method === 'GET') return page(res, url, state.providers.map((p) => completeResponse(version, 'Provider', { pk: p.pk, name: p.name, component: p.component, meta_model_name: p.meta_model_name, verbose_name: p.verbose_name, verbose_name_plural: p.verbose_name_plural, assigned_application_slug: providerView(p).assigned_application_slug, assigned_application_name: providerView(p).assigned_application_name })));

    if (path === '/flows/instances/' && method === 'GET') {
      const slug = url.searchParams.get('slug');
      const d = url.searchParams.get('designation');
      const s = url.searchParams.get('search')?.toLowerCase();
      return page(res, url, state.flows.filter((x) => (!slug || x.slug === slug) && (!d || x.designation === d) && (!s || `${String(x.name)} ${String(x.slug)} ${String(x.title)}`.toLowerCase().includes(s))).map(flowView));
    }
    // DRF registers import as a collection action: it wins over the flow-by-slug route.
    const importPath = version === '2026.2.6' ? '/flows/instances/import/' : '/managed/blueprints/import/';
    if (path === importPath && method === 'POST' && hasPath(version, path)) {
      const form = await multipartFile(req, raw);
      const logs: Obj[] = [];
      try {
        const bp = parseBlueprint(form.file ?? '');
        const flows = bp.entries.filter((e) => e.model === 'authentik_flows.flow');
        if (!flows.length) throw new Error('the blueprint has no authentik_flows.flow entry');
        for (const e of flows) {
          const slug = String(e.identifiers?.slug ?? '');
          const designation = String(e.attrs?.designation ?? '');
          if (!/^[-a-zA-Z0-9_]+$/.test(slug)) throw new Error(`invalid slug "${slug}"`);
          if (!['authentication', 'authorization', 'invalidation', 'enrollment', 'unenrollment', 'recovery', 'stage_configuration'].includes(designation)) throw new Error(`invalid designation "${designation}"`);
          const existing = state.flows.find((x) => x.slug === slug);
          const data = { slug, name: String(e.attrs?.name ?? slug), title: String(e.attrs?.title ?? ''), designation, yaml: form.file, blueprint: undefined };
          if (existing) Object.assign(existing, data);
          else state.flows.push({ pk: randomUUID(), stages: [], ...data });
          logs.push({ log_level: 'info', event: `applied flow ${slug}`, attributes: {} });
        }
      } catch (err) {
        const result = { success: false, logs: [{ log_level: 'error', event: (err as Error).message, attributes: {} }] };
        return send(res, version === '2026.2.6' ? 400 : 200, result);
      }
      return version === '2026.2.6' ? send(res, 204) : send(res, 200, { success: true, logs });
    }

    if ((m = /^\/flows\/instances\/([-a-zA-Z0-9_]+)\/(export\/)?$/.exec(path))) {
      const flow = state.flows.find((x) => x.slug === m?.[1]);
      if (!flow) return send(res, 404, { detail: 'No Flow matches the given query.' });
      if (m[2] && method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/yaml', 'Content-Disposition': `attachment; filename="${String(flow.slug)}.yaml"` });
        return void res.end(typeof flow.blueprint === 'string' && flow.blueprint.endsWith('.yaml') ? readFixtureBlueprint(flow.blueprint) : String(flow.yaml ?? ''));
      }
      if (method === 'GET') return send(res, 200, flowView(flow));
      if (method === 'DELETE') {
        state.flows.splice(state.flows.indexOf(flow), 1);
        return send(res, 204);
      }
    }
    if (path === '/outposts/instances/' && method === 'GET') {
      const managed = url.searchParams.get('managed__iexact')?.toLowerCase();
      return page(res, url, state.outposts.filter((o) => !managed || String(o.managed).toLowerCase() === managed).map((o) => completeResponse(version, 'Outpost', { ...o, providers_obj: state.providers.filter((p) => (o.providers as number[]).includes(p.pk as number)).map((p) => completeResponse(version, 'Provider', { pk: p.pk, name: p.name, component: p.component, meta_model_name: p.meta_model_name, verbose_name: p.verbose_name, verbose_name_plural: p.verbose_name_plural })), service_connection_obj: null })));
    }
    if ((m = /^\/outposts\/instances\/([0-9a-f-]{36})\/$/.exec(path)) && (method === 'PATCH' || method === 'PUT')) {
      const o = state.outposts.find((x) => x.pk === m?.[1]);
      if (!o) return send(res, 404, { detail: 'No Outpost matches the given query.' });
      if (invalid(method === 'PATCH' ? 'PatchedOutpostRequest' : 'OutpostRequest')) return;
      if (Array.isArray(body.providers) && body.providers.some((p) => !state.providers.some((x) => x.pk === p))) return send(res, 400, { providers: ['Invalid pk - object does not exist.'] });
      // providers is replaced as a whole, as in Authentik.
      Object.assign(o, body);
      return send(res, 200, completeResponse(version, 'Outpost', { ...o, providers_obj: [], service_connection_obj: null }));
    }
    if (!hasPath(version, path)) return send(res, 404, { detail: 'Not found.' });
    return send(res, 405, { detail: `Method "${method}" not allowed.` });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { detail: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  origin = `http://${opts.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/api/v3`,
    origin,
    get token() {
      return token ?? '';
    },
    version,
    failNext: (prefix, count = 1, method) => failures.push({ prefix, count, method }),
    revokeToken: () => {
      token = undefined;
    },
    oauthIssuer: (slug) => oidc.issuerFor(slug),
    issueAccessToken: (request) => oidc.issue(request),
    signInOAuthUser: (login) => oidc.signIn(login),
    state,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export { yaml as blueprintYaml };
