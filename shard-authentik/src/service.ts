import type { Brand as AkBrand, BrandRequest, Flow as AkFlow, FlowDesignationEnum, Application as AkApplication } from '@goauthentik/api';
import type { Logger } from 'pino';
import { PlanBook, ShardError, completeFrom, planRequest, toTimestamp, type PlanRequest, type ShardHandlers } from '@homelab-mcp/shard-kit';
import { ChangeKind, type Change, type Plan } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import {
  ClientType,
  CreateApplicationRequest,
  CreateApplicationResponse,
  FlowDesignation,
  ManageFlowsRequest,
  ManageFlowsResponse,
  MatchingMode,
  ProxyMode,
  SyncBrandRequest,
  SyncBrandResponse,
  type Application,
  type Brand,
  type Flow,
  type GatekeeperServiceService,
} from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import { parseFlowBlueprint } from './blueprint.js';
import { call, type Authentik } from './upstream/authentik.js';

const FLOW_KEYS = ['authentication', 'invalidation', 'recovery', 'unenrollment', 'user_settings', 'device_code'] as const;
type FlowKey = (typeof FLOW_KEYS)[number];
const brandFlowField = (k: FlowKey) => `flow${k.split('_').map((p) => p[0]?.toUpperCase() + p.slice(1)).join('')}` as keyof AkBrand & keyof BrandRequest;

const DESIGNATIONS: [FlowDesignation, string][] = [
  [FlowDesignation.FLOW_DESIGNATION_AUTHENTICATION, 'authentication'],
  [FlowDesignation.FLOW_DESIGNATION_AUTHORIZATION, 'authorization'],
  [FlowDesignation.FLOW_DESIGNATION_INVALIDATION, 'invalidation'],
  [FlowDesignation.FLOW_DESIGNATION_ENROLLMENT, 'enrollment'],
  [FlowDesignation.FLOW_DESIGNATION_UNENROLLMENT, 'unenrollment'],
  [FlowDesignation.FLOW_DESIGNATION_RECOVERY, 'recovery'],
  [FlowDesignation.FLOW_DESIGNATION_STAGE_CONFIGURATION, 'stage_configuration'],
];

const FORWARD_AUTH_HEADERS = ['X-authentik-username', 'X-authentik-groups', 'X-authentik-entitlements', 'X-authentik-email', 'X-authentik-name', 'X-authentik-uid', 'X-authentik-jwt', 'X-authentik-meta-jwks', 'X-authentik-meta-outpost', 'X-authentik-meta-provider', 'X-authentik-meta-app', 'X-authentik-meta-version'];

function toFlow(f: AkFlow): Flow {
  return {
    uuid: f.pk,
    slug: f.slug,
    name: f.name,
    title: f.title,
    designation: DESIGNATIONS.find(([, d]) => d === String(f.designation))?.[0] ?? FlowDesignation.FLOW_DESIGNATION_UNSPECIFIED,
    stageCount: (f.stages ?? []).length,
  };
}

function change(path: string, before: unknown, after: unknown, kind?: ChangeKind): Change {
  const s = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  return { path, before: s(before), after: s(after), kind: kind ?? (before === undefined || before === null || before === '' ? ChangeKind.CHANGE_KIND_CREATE : ChangeKind.CHANGE_KIND_UPDATE) };
}

function planOf(book: PlanBook<unknown>, request: PlanRequest, payload: unknown, summary: string, changes: Change[], diff = ''): Plan {
  const { id, expiresAt } = book.create(request, payload);
  return {
    id,
    summary: changes.length ? summary : 'nothing to change: Authentik already matches',
    diff: diff || changes.map((c) => `${c.path}: ${c.before || '(unset)'} -> ${c.after || '(unset)'}`).join('\n'),
    changes,
    expiresAt: toTimestamp(expiresAt),
    noOp: changes.length === 0,
  };
}

type AkProxyMode = 'forward_single' | 'forward_domain' | 'proxy';

/** Creates the application's proxy or OAuth2 provider; `undo` deletes it again. */
async function createProvider(ak: Authentik, req: CreateApplicationRequest, name: string, mode: AkProxyMode, flows: { authorization: string; invalidation: string }, signal: AbortSignal): Promise<{ pk: number; clientId: string; undo: () => Promise<unknown> }> {
  const common = { name, authorizationFlow: flows.authorization, invalidationFlow: flows.invalidation };
  if (req.proxy) {
    const proxy = req.proxy;
    const pr = await call(() => ak.providers.providersProxyCreate({ proxyProviderRequest: {
      ...common, externalHost: proxy.externalHost, mode,
      ...(proxy.internalHost ? { internalHost: proxy.internalHost } : {}),
      ...(proxy.cookieDomain ? { cookieDomain: proxy.cookieDomain } : {}),
    } }, { signal }));
    return { pk: pr.pk, clientId: '', undo: () => ak.providers.providersProxyDestroy({ id: pr.pk }) };
  }
  const o = req.oauth2!;
  const pr = await call(() => ak.providers.providersOauth2Create({ oAuth2ProviderRequest: {
    ...common,
    clientType: o.clientType === ClientType.CLIENT_TYPE_PUBLIC ? 'public' : 'confidential',
    redirectUris: o.redirectUris.map((r) => ({ url: r.url, matchingMode: r.matchingMode === MatchingMode.MATCHING_MODE_REGEX ? 'regex' : 'strict' })),
  } }, { signal }));
  return { pk: pr.pk, clientId: pr.clientId ?? '', undo: () => ak.providers.providersOauth2Destroy({ id: pr.pk }) };
}

export interface GatekeeperDeps {
  ak: Authentik;
  outpostUrl: string;
  logger: Logger;
}

/** The Gatekeeper's handlers: brands, applications with providers, flows, all through @goauthentik/api. */
export function createHandlers({ ak, outpostUrl, logger }: GatekeeperDeps): ShardHandlers<typeof GatekeeperServiceService> {
  const plans = new PlanBook<unknown>();
  const flowSlugs = async (signal: AbortSignal) => new Map((await ak.all((page) => ak.flows.flowsInstancesList({ page, pageSize: 100 }, { signal }))).map((f) => [f.pk, f.slug]));

  const toBrand = (b: AkBrand, slugs: Map<string, string>): Brand => ({
    uuid: b.brandUuid,
    domain: b.domain,
    default: Boolean(b._default),
    title: b.brandingTitle ?? '',
    logo: b.brandingLogo ?? '',
    favicon: b.brandingFavicon ?? '',
    flows: Object.fromEntries(FLOW_KEYS.map((k) => [k, slugs.get(String(b[brandFlowField(k)] ?? '')) ?? '']).filter(([, v]) => v)),
    attributes: (b.attributes ?? {}) as Record<string, unknown>,
  });

  const findApp = async (slug: string, signal: AbortSignal): Promise<AkApplication | undefined> =>
    (await call(() => ak.core.coreApplicationsList({ slug }, { signal }))).results[0];

  /** Adds the provider to the embedded outpost; returns the outpost's name. */
  const bindToEmbeddedOutpost = async (providerPk: number, signal: AbortSignal): Promise<string> => {
    const outpost = (await call(() => ak.outposts.outpostsInstancesList({ managedIexact: 'goauthentik.io/outposts/embedded' }, { signal }))).results[0];
    if (!outpost) throw new ShardError('FAILED_PRECONDITION', 'Authentik has no embedded outpost to bind the provider to', { hint: 'Set bind_to_embedded_outpost to false and bind the provider to your outpost in Authentik.' });
    // providers is replaced as a whole: send the existing ones with the new one.
    await call(() => ak.outposts.outpostsInstancesPartialUpdate({ uuid: outpost.pk, patchedOutpostRequest: { providers: [...outpost.providers, providerPk] } }, { signal }));
    return outpost.name;
  };

  const toApplication = async (a: AkApplication, signal: AbortSignal): Promise<Application> => {
    const pk = a.provider ?? undefined;
    const provider = pk ? (await ak.all((page) => ak.providers.providersAllList({ page, pageSize: 100 }, { signal }))).find((p) => p.pk === pk) : undefined;
    const proxy = pk && provider?.metaModelName?.includes('proxy') ? await call(() => ak.providers.providersProxyRetrieve({ id: pk }, { signal })) : undefined;
    return {
      uuid: a.pk,
      slug: a.slug,
      name: a.name,
      launchUrl: a.launchUrl ?? '',
      group: a.group ?? '',
      providerName: provider?.name ?? '',
      providerType: provider ? (provider.metaModelName.includes('proxy') ? 'proxy' : provider.metaModelName.includes('oauth2') ? 'oauth2' : provider.metaModelName) : '',
      providerId: pk ?? 0,
      proxyMode: proxy?.mode ? String(proxy.mode) : '',
      externalHost: proxy?.externalHost ?? '',
      outposts: proxy?.outpostSet ?? [],
    };
  };

  const traefikMiddleware = (req: CreateApplicationRequest) =>
    req.proxy && req.proxy.mode !== ProxyMode.PROXY_MODE_PROXY
      ? { name: 'authentik', address: `${outpostUrl}/outpost.goauthentik.io/auth/traefik`, trustForwardHeader: true, authResponseHeaders: FORWARD_AUTH_HEADERS }
      : undefined;

  const allApps = (signal: AbortSignal) => ak.all((page) => ak.core.coreApplicationsList({ page, pageSize: 100 }, { signal }));

  return {
    readApplication: async (req, ctx) => {
      const app = await findApp(req.slug, ctx.signal);
      if (!app) {
        const slugs = (await allApps(ctx.signal)).map((a) => a.slug).sort();
        throw new ShardError('NOT_FOUND', `no Authentik application with slug "${req.slug}"`, { reason: 'NO_SUCH_APPLICATION', hint: slugs.length ? `The applications: ${slugs.join(', ')}.` : 'Authentik has no applications yet; create_application makes one.' });
      }
      return toApplication(app, ctx.signal);
    },

    listApplicationResources: async (_req, ctx) => ({
      resources: (await allApps(ctx.signal))
        .sort((a, b) => a.slug.localeCompare(b.slug))
        .map((a) => ({ uri: `authentik://applications/${encodeURIComponent(a.slug)}`, name: a.slug, title: a.name, description: `Authentik application ${a.name}${a.launchUrl ? ` (${a.launchUrl})` : ''}.`, mimeType: 'application/json' })),
    }),

    completeApplicationSlugs: async (req, ctx) => {
      return completeFrom((await allApps(ctx.signal)).map((a) => a.slug).sort(), req.value);
    },

    listBrands: async (req, ctx) => {
      const [brands, slugs] = await Promise.all([ak.all((page) => ak.core.coreBrandsList({ page, pageSize: 100, ...(req.search ? { search: req.search } : {}) }, { signal: ctx.signal })), flowSlugs(ctx.signal)]);
      return { brands: brands.map((b) => toBrand(b, slugs)).sort((a, b) => a.domain.localeCompare(b.domain)) };
    },

    syncBrand: async (req, ctx) => {
      const signal = ctx.signal;
      const existing = (await call(() => ak.core.coreBrandsList({ domain: req.domain }, { signal }))).results[0];
      const desired: Partial<BrandRequest> = {};
      if (req.title !== undefined) desired.brandingTitle = req.title;
      if (req.logo !== undefined) desired.brandingLogo = req.logo;
      if (req.favicon !== undefined) desired.brandingFavicon = req.favicon;
      if (req.default !== undefined) desired._default = req.default;
      for (const [k, slug] of Object.entries(req.flows)) {
        if (!(FLOW_KEYS as readonly string[]).includes(k)) throw new ShardError('INVALID_ARGUMENT', `flows has an unknown key "${k}"`, { fieldViolations: [{ field: `flows.${k}`, description: `use one of ${FLOW_KEYS.join(', ')}` }] });
        (desired as Record<string, unknown>)[brandFlowField(k as FlowKey)] = slug ? (await ak.flowBySlug(slug, signal)).pk : null;
      }
      if (req.attributes) desired.attributes = { ...(existing?.attributes ?? {}), ...(req.attributes as Record<string, unknown>) };
      const fieldPath: Record<string, string> = { brandingTitle: 'branding_title', brandingLogo: 'branding_logo', brandingFavicon: 'branding_favicon', _default: 'default', attributes: 'attributes' };
      const changes: Change[] = [];
      if (!existing) changes.push(change('domain', undefined, req.domain, ChangeKind.CHANGE_KIND_CREATE));
      for (const [k, v] of Object.entries(desired)) {
        const before = existing ? (existing as unknown as Record<string, unknown>)[k] : undefined;
        if (JSON.stringify(before ?? null) !== JSON.stringify(v ?? null)) changes.push(change(fieldPath[k] ?? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), before, v));
      }
      const slugs = await flowSlugs(signal);
      if (!req.planId) {
        const plan = planOf(plans, planRequest(SyncBrandRequest, req), { uuid: existing?.brandUuid, desired }, existing ? `update brand ${req.domain}: ${changes.map((c) => c.path).join(', ')}` : `create brand ${req.domain}`, changes);
        return SyncBrandResponse.fromPartial({
          plan,
          created: !existing,
          ...(existing ? { brand: toBrand(existing, slugs) } : {}),
          message: plan.noOp ? `Brand ${req.domain} already matches: nothing to do.` : `Plan ready (${changes.length} change${changes.length === 1 ? '' : 's'}). Call sync_brand again with the same arguments and plan_id "${plan.id}" to apply it.`,
        });
      }
      const planned = plans.take(req.planId, planRequest(SyncBrandRequest, req)) as { uuid?: string; desired: Partial<BrandRequest> };
      if (planned.uuid !== existing?.brandUuid) throw new ShardError('ABORTED', `brand ${req.domain} changed since the plan was made`, { hint: 'Plan again.' });
      let brand: AkBrand;
      if (!existing) brand = await call(() => ak.core.coreBrandsCreate({ brandRequest: { domain: req.domain, ...planned.desired } }, { signal }));
      else if (changes.length) brand = await call(() => ak.core.coreBrandsPartialUpdate({ brandUuid: existing.brandUuid, patchedBrandRequest: planned.desired }, { signal }));
      else brand = existing;
      return SyncBrandResponse.fromPartial({ applied: true, created: !existing, brand: toBrand(brand, slugs), message: !existing ? `Created brand ${req.domain}.` : changes.length ? `Updated brand ${req.domain}: ${changes.map((c) => c.path).join(', ')}.` : `Brand ${req.domain} already matched: nothing changed.` });
    },

    createApplication: async (req, ctx) => {
      const signal = ctx.signal;
      if (!req.proxy && !req.oauth2) throw new ShardError('INVALID_ARGUMENT', 'give a provider: proxy (forward auth or proxy) or oauth2', { fieldViolations: [{ field: 'proxy', description: 'set proxy or oauth2' }] });
      const existing = await findApp(req.slug, signal);
      if (existing) {
        return CreateApplicationResponse.fromPartial({ alreadyExists: true, application: await toApplication(existing, signal), ...(traefikMiddleware(req) ? { traefikMiddleware: traefikMiddleware(req) } : {}), message: `Application ${req.slug} already exists; nothing was created.` });
      }
      const p = req.proxy ?? req.oauth2;
      const authorization = await ak.flowBySlug(p?.authorizationFlow || 'default-provider-authorization-implicit-consent', signal);
      const invalidation = await ak.flowBySlug(p?.invalidationFlow || 'default-provider-invalidation-flow', signal);
      const bind = req.proxy !== undefined && req.bindToEmbeddedOutpost !== false;
      const providerName = `${req.name} provider`;
      const mode: AkProxyMode = req.proxy?.mode === ProxyMode.PROXY_MODE_FORWARD_DOMAIN ? 'forward_domain' : req.proxy?.mode === ProxyMode.PROXY_MODE_PROXY ? 'proxy' : 'forward_single';
      if (req.proxy && mode === 'proxy' && !req.proxy.internalHost) throw new ShardError('INVALID_ARGUMENT', 'mode proxy needs internal_host', { fieldViolations: [{ field: 'proxy.internal_host', description: 'required in proxy mode' }] });
      if (req.proxy && mode === 'forward_domain' && !req.proxy.cookieDomain) throw new ShardError('INVALID_ARGUMENT', 'forward_domain needs cookie_domain', { fieldViolations: [{ field: 'proxy.cookie_domain', description: 'required for forward_domain' }] });
      const changes: Change[] = [
        change(`${req.proxy ? 'proxy' : 'oauth2'} provider`, undefined, providerName),
        change('application', undefined, `${req.name} (${req.slug})`),
        ...(bind ? [change('embedded outpost providers', '(existing)', `(existing) + ${providerName}`, ChangeKind.CHANGE_KIND_UPDATE)] : []),
      ];
      if (!req.planId) {
        const plan = planOf(plans, planRequest(CreateApplicationRequest, req), null, `create ${req.proxy ? `proxy provider (${mode})` : 'OAuth2 provider'} and application ${req.slug}${bind ? ', bind to the embedded outpost' : ''}`, changes);
        return CreateApplicationResponse.fromPartial({ plan, message: `Plan ready. Call create_application again with the same arguments and plan_id "${plan.id}" to apply it.` });
      }
      plans.take(req.planId, planRequest(CreateApplicationRequest, req));
      const created: string[] = [];
      const undo: (() => Promise<unknown>)[] = [];
      try {
        const provider = await createProvider(ak, req, providerName, mode, { authorization: authorization.pk, invalidation: invalidation.pk }, signal);
        const { pk: providerPk, clientId } = provider;
        undo.push(provider.undo);
        created.push(`${req.proxy ? 'proxy' : 'oauth2'} provider ${providerPk}`);
        const app = await call(() => ak.core.coreApplicationsCreate({ applicationRequest: {
          name: req.name, slug: req.slug, provider: providerPk,
          ...(req.launchUrl ? { metaLaunchUrl: req.launchUrl } : {}),
          ...(req.group ? { group: req.group } : {}),
        } }, { signal }));
        undo.push(() => ak.core.coreApplicationsDestroy({ slug: app.slug }));
        created.push(`application ${app.slug}`);
        if (bind) created.push(`outpost binding (${await bindToEmbeddedOutpost(providerPk, signal)})`);
        const middleware = traefikMiddleware(req);
        return CreateApplicationResponse.fromPartial({
          applied: true,
          created,
          application: await toApplication(await findApp(req.slug, signal) ?? app, signal),
          ...(middleware ? { traefikMiddleware: middleware } : {}),
          clientId,
          message: `Created ${created.join(', ')}.${middleware ? ` Put Traefik's forwardAuth in front of the app: add_dynamic_config with a forward_auth middleware at ${middleware.address}.` : ''}`,
        });
      } catch (err) {
        for (const u of undo.reverse()) await u().catch((e: unknown) => logger.error({ err: e }, 'rollback step failed'));
        logger.warn({ slug: req.slug, undone: created }, 'create_application failed: rolled back');
        if (err instanceof ShardError) throw new ShardError(err.code, `${err.message} (rolled back: ${created.join(', ') || 'nothing was created'})`, { ...(err.hint ? { hint: err.hint } : {}), reason: err.reason });
        throw err;
      }
    },

    listApplications: async (req, ctx) => {
      const apps = await ak.all((page) => ak.core.coreApplicationsList({ page, pageSize: 100, ...(req.search ? { search: req.search } : {}) }, { signal: ctx.signal }));
      const out: Application[] = [];
      for (const a of apps) out.push(await toApplication(a, ctx.signal));
      return { applications: out.sort((a, b) => a.name.localeCompare(b.name)) };
    },

    manageFlows: async (req, ctx) => {
      const signal = ctx.signal;
      if (req.list) {
        const designation = DESIGNATIONS.find(([d]) => d === req.list?.designation)?.[1] as FlowDesignationEnum | undefined;
        const flows = await ak.all((page) => ak.flows.flowsInstancesList({ page, pageSize: 100, ...(designation ? { designation } : {}), ...(req.list?.search ? { search: req.list.search } : {}) }, { signal }));
        return ManageFlowsResponse.fromPartial({ flows: flows.map(toFlow), message: `${flows.length} flow${flows.length === 1 ? '' : 's'}.` });
      }
      if (req.get) return ManageFlowsResponse.fromPartial({ flow: toFlow(await ak.flowBySlug(req.get.slug, signal)) });
      if (req.export) {
        await ak.flowBySlug(req.export.slug, signal);
        const blob = await call(() => ak.flows.flowsInstancesExportRetrieve({ slug: req.export!.slug }, { signal }));
        return ManageFlowsResponse.fromPartial({ yaml: await blob.text(), message: `Exported ${req.export.slug}.` });
      }
      if (req.import) {
        const text = req.import.yaml;
        const blueprint = parseFlowBlueprint(text);
        const slugs = blueprint.flows.map((f) => f.slug);
        if (!req.planId) {
          const plan = planOf(plans, planRequest(ManageFlowsRequest, req), null, `import flow blueprint${blueprint.name ? ` "${blueprint.name}"` : ''} (${slugs.join(', ')}; ${blueprint.entryCount} entr${blueprint.entryCount === 1 ? 'y' : 'ies'})`, slugs.map((s) => change(`flow ${s}`, undefined, 'imported')), text);
          return ManageFlowsResponse.fromPartial({ plan, message: `Plan ready. Call manage_flows again with the same import and plan_id "${plan.id}" to apply it.` });
        }
        plans.take(req.planId, planRequest(ManageFlowsRequest, req));
        const res = await ak.importFlow(text, req.import.clear, signal);
        if (!res.success) throw new ShardError('INVALID_ARGUMENT', `Authentik refused the blueprint: ${res.logs.join('; ') || 'no reason given'}`, { reason: 'IMPORT_FAILED', hint: 'Fix the blueprint and plan again.' });
        return ManageFlowsResponse.fromPartial({ applied: true, logs: res.logs, message: 'Imported the flow blueprint.' });
      }
      if (req.delete) {
        const flow = await ak.flowBySlug(req.delete.slug, signal);
        if (!req.planId) {
          const plan = planOf(plans, planRequest(ManageFlowsRequest, req), flow.pk, `delete flow ${flow.slug}`, [change(`flow ${flow.slug}`, flow.name, undefined, ChangeKind.CHANGE_KIND_DELETE)]);
          return ManageFlowsResponse.fromPartial({ plan, flow: toFlow(flow), message: `Plan ready. Call manage_flows again with the same delete and plan_id "${plan.id}" to apply it.` });
        }
        plans.take(req.planId, planRequest(ManageFlowsRequest, req));
        await call(() => ak.flows.flowsInstancesDestroy({ slug: flow.slug }, { signal }));
        return ManageFlowsResponse.fromPartial({ applied: true, flow: toFlow(flow), message: `Deleted flow ${flow.slug}.` });
      }
      throw new ShardError('INVALID_ARGUMENT', 'choose one action: list, get, export, import or delete', { fieldViolations: [{ field: 'list', description: 'set exactly one action' }] });
    },
  };
}
