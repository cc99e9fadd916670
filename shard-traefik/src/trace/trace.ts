import { usersWithoutHash } from '@homelab-mcp/upstream-types/traefik.js';
import { distance } from 'fastest-levenshtein';
import { RE2JS } from 're2js';
import { ShardError } from '@homelab-mcp/shard-kit';
import { ObjectStatus, type CertificateReport, TraceOutcome, NearMissKind, type NearMiss, type TraceHop, type TraceMiddleware, type TraceRequestRequest, type TraceRequestResponse, type TraceRouter, type TraceService } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { qualify, status } from '../routes.js';
import { checkSslStatus } from '../ssl.js';
import type { RawDataSnapshots } from '../upstream/snapshots.js';
import { rawItems, type ApiRouter, type RawData, type TraefikApi } from '../upstream/traefik-api.js';
import { evaluateRule, parseRule, routingPath, ruleHosts, type RequestFacts, type RuleNode, type RuleSyntax } from './rule.js';

type Obj = Record<string, unknown> & { name: string; provider: string; status: string; error?: string[] };
interface EntryPoint { name: string; address: string; http?: { redirections?: { entryPoint?: { to?: string; scheme?: string; permanent?: boolean } }; middlewares?: string[] } }
interface Live { raw: RawData; entryPoints: EntryPoint[]; routers: (ApiRouter & { using?: string[]; ruleSyntax?: string })[]; services: Map<string, Obj>; middlewares: Map<string, Obj> }

const MAX_HOPS = 5;


function port(address: string): string {
  return /:(\d+)(\/\w+)?$/.exec(address)?.[1] ?? '';
}

function priorityOf(r: ApiRouter): bigint {
  try {
    const p = BigInt(r.priorityStr ?? String(r.priority ?? 0));
    // Traefik's router manager: priority 0 means the length of the rule (GetRulePriority).
    return p || BigInt((r.rule ?? '').length);
  } catch {
    return BigInt((r.rule ?? '').length);
  }
}

function configOf(o: Obj): Record<string, unknown> {
  const { name: _n, provider: _p, status: _s, error: _e, usedBy: _u, type: _t, serverStatus: _ss, ...rest } = o;
  return rest;
}

/** The kind of a service or middleware as Traefik's lists name it (their `type`): its one configuration key, lower-cased. */
function typed(o: Obj): Obj {
  return { ...o, type: String(o.type ?? Object.keys(configOf(o))[0]?.toLowerCase() ?? '') };
}

/** Entry points, and the HTTP routers, services and middlewares of one runtime configuration (a held snapshot, or read now). */
async function readLive(api: TraefikApi, signal: AbortSignal, held: RawData | undefined): Promise<Live> {
  const [entryPoints, raw] = await Promise.all([api.list<EntryPoint>('/entrypoints', signal), held ?? api.rawData(signal)]);
  // The lists Traefik's API serves are sorted by name; its raw data is keyed by name.
  const routers = rawItems<ApiRouter & { using?: string[]; ruleSyntax?: string }>(raw.routers).sort((a, b) => a.name.localeCompare(b.name));
  const services = rawItems<Obj>(raw.services).map(typed);
  const middlewares = rawItems<Obj>(raw.middlewares).map(typed);
  return { raw, entryPoints, routers, services: new Map(services.map((s) => [s.name, s])), middlewares: new Map(middlewares.map((m) => [m.name, m])) };
}

function facts(url: URL, method: string, headers: Record<string, string>, clientIp: string): RequestFacts {
  const h = new Map<string, string[]>();
  for (const [k, v] of Object.entries(headers)) h.set(k.toLowerCase(), [...(h.get(k.toLowerCase()) ?? []), v]);
  return { host: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(), path: routingPath(url.pathname || '/'), method, headers: h, query: url.searchParams, ...(clientIp ? { clientIp } : {}) };
}

interface Evaluated { router: Live['routers'][number]; syntax: RuleSyntax; matched: boolean; hostMatched: boolean; failing: string[]; error?: string; priority: bigint; trace: TraceRouter }

function evaluate(r: Live['routers'][number], req: RequestFacts): Evaluated {
  const syntax: RuleSyntax = r.ruleSyntax === 'v2' ? 'v2' : 'v3';
  const priority = priorityOf(r);
  const base = { name: r.name, rule: r.rule ?? '', ruleSyntax: syntax, priority: String(priority) };
  try {
    const tree = parseRule(r.rule ?? '', syntax);
    const { matched, leaves } = evaluateRule(tree, req, syntax);
    const hostMatched = leaves.some((l) => /^Host/.test(l.matcher) && l.matched && !l.negated);
    const failing = leaves.filter((l) => l.matched === l.negated).map((l) => (l.negated ? `!${l.text}` : l.text));
    return { router: r, syntax, matched, hostMatched, failing, priority, trace: { ...base, matched, matchers: leaves.map((l) => ({ matcher: l.text, matched: l.matched, negated: l.negated })), ruleError: '' } };
  } catch (err) {
    const error = (err as Error).message;
    return { router: r, syntax, matched: false, hostMatched: false, failing: [], error, priority, trace: { ...base, matched: false, matchers: [], ruleError: error } };
  }
}

function eps(r: ApiRouter & { using?: string[] }): string[] {
  return r.using ?? r.entryPoints ?? [];
}

/**
 * A reference without "@provider" is qualified with the router's own provider
 * (a Docker label "authentik" means authentik@docker), the usual reason one
 * defined in the file provider "does not exist": say where the name does exist.
 */
function definedElsewhere(errors: readonly string[], live: Live): string {
  const hints = errors.flatMap((e) => {
    const m = /^(?:middleware|the service) "([^"@]+)@([^"]+)" does not exist$/.exec(e);
    if (!m) return [];
    const pool = e.startsWith('middleware') ? live.middlewares : live.services;
    const other = [...pool.keys()].find((k) => k.startsWith(`${m[1]}@`) && k !== `${m[1]}@${m[2]}`);
    return other ? [`${other} exists: name it "${other}", with its provider`] : [];
  });
  return hints.length ? ` (${hints.join('; ')})` : '';
}

function nearMisses(all: Evaluated[], winner: Evaluated | undefined, ep: string, tls: boolean, req: RequestFacts, live: Live): NearMiss[] {
  const out: NearMiss[] = [];
  for (const e of all) {
    const r = e.router;
    if (r === winner?.router || r.provider === 'internal') continue;
    const onEp = eps(r).includes(ep);
    const tlsFits = Boolean(r.tls) === tls;
    const disabled = r.status === 'disabled';
    const miss = (kind: NearMissKind, detail: string) => out.push({ router: r.name, kind, detail, rule: r.rule ?? '' });
    if (e.matched || e.hostMatched) {
      const pre = e.matched ? 'its rule matches' : `the host matches but ${e.failing.join(', ')} ${e.failing.length > 1 ? 'do' : 'does'} not (path ${req.path}${req.method !== 'GET' ? `, method ${req.method}` : ''})`;
      if (disabled) miss(NearMissKind.NEAR_MISS_KIND_DISABLED, `${pre}, but Traefik disabled the router: ${(r.error ?? []).join('; ') || 'no error given'}${definedElsewhere(r.error ?? [], live)}`);
      else if (!onEp) miss(NearMissKind.NEAR_MISS_KIND_OTHER_ENTRY_POINT, `${pre}, but it listens on ${eps(r).join(', ') || 'no entry point'}, not ${ep}`);
      else if (!tlsFits) miss(NearMissKind.NEAR_MISS_KIND_TLS_MISMATCH, `${pre}, but it ${r.tls ? 'has TLS, so it serves only HTTPS connections' : 'has no TLS, so Traefik serves it only on plain HTTP connections, never over HTTPS'}`);
      else if (!e.matched) miss(NearMissKind.NEAR_MISS_KIND_RULE_PART, pre);
      else miss(NearMissKind.NEAR_MISS_KIND_LOWER_PRIORITY, `its rule matches, but ${winner ? `${winner.router.name} has priority ${winner.priority} ${winner.priority === e.priority ? '(equal: Traefik\'s order between them is not defined)' : `over its ${e.priority}`}` : 'another router wins'}`);
      continue;
    }
    const hosts = ruleHosts(parseSafe(r));
    // Traefik compares the request's host without its port (GetCanonizedHost): a rule naming a port never matches.
    const withPort = hosts.find((h) => h !== req.host && h.replace(/:\d+$/, '') === req.host);
    if (withPort) {
      miss(NearMissKind.NEAR_MISS_KIND_SIMILAR_HOST, `its host ${withPort} carries a port: Traefik matches the request's host without its port, so this rule never matches ${req.host}`);
      continue;
    }
    const close = hosts.map((h) => [h, distance(h, req.host)] as const).filter(([, d]) => d > 0 && d <= Math.max(2, Math.floor(req.host.length / 10))).sort((a, b) => a[1] - b[1])[0];
    if (close) miss(NearMissKind.NEAR_MISS_KIND_SIMILAR_HOST, `its host ${close[0]} is ${close[1]} edit${close[1] > 1 ? 's' : ''} away from ${req.host}: a typo in the rule or in the URL?`);
  }
  return out.slice(0, 12);
}

function parseSafe(r: ApiRouter & { ruleSyntax?: string }): RuleNode {
  try {
    return parseRule(r.rule ?? '', r.ruleSyntax === 'v2' ? 'v2' : 'v3');
  } catch {
    return { kind: 'call', matcher: '', args: [], text: '' };
  }
}

/** Go-style expansion of $1 / ${1} / ${name} in a redirectRegex replacement. */
function expandRegex(pattern: string, replacement: string, input: string): string | undefined {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch {
    return undefined;
  }
  const m = re.matcher(input);
  if (!m.find()) return undefined;
  return replacement.replace(/\$\{(\w+)\}|\$(\d+)/g, (_x, a: string | undefined, b: string | undefined) => {
    const g = a ?? b ?? '';
    try {
      return (/^\d+$/.test(g) ? m.group(Number(g)) : m.group(g)) ?? '';
    } catch {
      return '';
    }
  });
}

interface MwResult { steps: TraceMiddleware[]; redirect?: string; stop?: { status: number; why: string }; path: string }

/** What one middleware does to this request: its effect, and a redirect, a refusal or a new path. */
interface MwEffect { effect: string; redirect?: string; stop?: { status: number; why: string }; path?: string; chain?: TraceMiddleware[] }

interface MwContext { name: string; mw: Obj; url: URL; path: string; req: RequestFacts; live: Live; depth: number }

type Body = Record<string, unknown>;

const list = (v: unknown) => (v as string[] | undefined) ?? [];

function redirectScheme(body: Body, { url }: MwContext): MwEffect {
  const scheme = String(body.scheme ?? 'https');
  const p = body.port ? String(body.port) : '';
  const defaultPort = scheme === 'https' ? '443' : '80';
  if (url.protocol.slice(0, -1) === scheme && (!p || p === (url.port || defaultPort))) return { effect: `already ${scheme}: passes on` };
  const target = new URL(url.href);
  target.protocol = `${scheme}:`;
  target.port = p && p !== defaultPort ? p : '';
  return { effect: `redirects (${body.permanent ? '308/301 permanent' : '307/302'}) to ${target.href}`, redirect: target.href };
}

function redirectRegex(body: Body, { url }: MwContext): MwEffect {
  const to = expandRegex(String(body.regex ?? ''), String(body.replacement ?? ''), url.href);
  if (to === undefined || to === url.href) return { effect: `regex ${String(body.regex)} does not match ${url.href}: passes on` };
  return { effect: `redirects (${body.permanent ? 'permanent' : 'temporary'}) to ${to}`, redirect: to };
}

function stripPrefix(body: Body, { path }: MwContext): MwEffect {
  const prefix = list(body.prefixes).find((p) => path.startsWith(p));
  if (!prefix) return { effect: `no prefix of ${JSON.stringify(body.prefixes ?? [])} matches ${path}: unchanged` };
  const stripped = `/${path.slice(prefix.length).replace(/^\//, '')}`;
  return { effect: `strips ${prefix}: the service sees ${stripped}`, path: stripped };
}

function addPrefix(body: Body, { path }: MwContext): MwEffect {
  const added = `${String(body.prefix ?? '')}${path}`;
  return { effect: `the service sees ${added}`, path: added };
}

function ipAllowList(body: Body, { req, name }: MwContext): MwEffect {
  const ranges = list(body.sourceRange);
  if (!req.clientIp) return { effect: `allows only ${ranges.join(', ')}; others get 403 (give client_ip to check this client)` };
  const allowed = ranges.some((r) => {
    try {
      return evaluateRule(parseRule(`ClientIP(\`${r}\`)`), req).matched;
    } catch {
      return false;
    }
  });
  if (allowed) return { effect: `client ${req.clientIp} is within ${ranges.join(', ')}` };
  return { effect: `client ${req.clientIp} is not within ${ranges.join(', ')}: 403 Forbidden`, stop: { status: 403, why: `${name} refuses ${req.clientIp}` } };
}

function basicAuth(body: Body, { req, name }: MwContext): MwEffect {
  const users = list(body.users);
  const unusable = usersWithoutHash(users);
  const noHash = unusable.length ? `; no password can match for ${unusable.join(', ')}: not an htpasswd hash (a $ lost to docker compose's interpolation?)` : '';
  if (req.headers.has('authorization')) return { effect: `checks the Authorization header against its users${noHash}` };
  return { effect: `asks for credentials (${users.length} user${users.length === 1 ? '' : 's'}${body.usersFile ? ', users file' : ''}): 401 without an Authorization header${noHash}`, stop: { status: 401, why: `${name} wants credentials` } };
}

function forwardAuth(body: Body): MwEffect {
  const copies = body.authResponseHeaders ? `; copies ${list(body.authResponseHeaders).join(', ')}` : '';
  return { effect: `asks ${String(body.address ?? '(no address)')} first; any non-2xx answer from it (e.g. a redirect to the login page) goes back to the client${copies}` };
}

function headers(body: Body): MwEffect {
  const req = Object.keys((body.customRequestHeaders as object | undefined) ?? {});
  const res = Object.keys((body.customResponseHeaders as object | undefined) ?? {});
  const parts = [req.length ? `sets request headers ${req.join(', ')}` : '', res.length ? `sets response headers ${res.join(', ')}` : '', body.stsSeconds ? `HSTS ${String(body.stsSeconds)}s` : ''];
  return { effect: parts.filter(Boolean).join('; ') || 'adjusts headers' };
}

function chain(body: Body, { name, mw, url, path, req, live, depth }: MwContext): MwEffect {
  const inner = list(body.middlewares).map((m) => ({ name: qualify(m, mw.provider), source: `chain ${name}` }));
  if (depth > 4) return { effect: 'nested too deep to follow' };
  const sub = walkMiddlewares(inner, live, url, req, depth + 1, path);
  return { effect: `runs ${inner.map((i) => i.name).join(' -> ')}`, chain: sub.steps, path: sub.path, ...(sub.redirect ? { redirect: sub.redirect } : {}), ...(sub.stop ? { stop: sub.stop } : {}) };
}

/** Each middleware kind Traefik has, by its lower-case type as /api/rawdata gives it. */
const MIDDLEWARE_EFFECTS: Record<string, (body: Body, ctx: MwContext) => MwEffect> = {
  redirectscheme: redirectScheme,
  redirectregex: redirectRegex,
  stripprefix: stripPrefix,
  addprefix: addPrefix,
  ipallowlist: ipAllowList,
  ipwhitelist: ipAllowList,
  basicauth: basicAuth,
  digestauth: basicAuth,
  forwardauth: forwardAuth,
  headers,
  chain,
};

function walkMiddlewares(names: { name: string; source: string }[], live: Live, url: URL, req: RequestFacts, depth = 0, startPath = url.pathname): MwResult {
  const steps: TraceMiddleware[] = [];
  let path = startPath;
  for (const { name, source } of names) {
    const mw = live.middlewares.get(name);
    if (!mw) {
      steps.push({ name, type: '', status: ObjectStatus.OBJECT_STATUS_DISABLED, errors: [`middleware "${name}" does not exist`], effect: 'missing: Traefik disables every router that uses it', chain: [], source });
      return { steps, stop: { status: 404, why: `middleware ${name} does not exist` }, path };
    }
    const cfg = configOf(mw);
    const type = String(mw.type);
    const body = (Object.values(cfg)[0] ?? {}) as Body;
    const apply = MIDDLEWARE_EFFECTS[type];
    const out = apply ? apply(body, { name, mw, url, path, req, live, depth }) : { effect: type ? `${type} middleware` : 'unknown kind' };
    steps.push({ name, type, status: status(mw.status), errors: mw.error ?? [], config: cfg, effect: out.effect, chain: out.chain ?? [], source });
    if (out.path !== undefined) path = out.path;
    if (out.redirect) return { steps, redirect: out.redirect, path };
    if (out.stop) return { steps, stop: out.stop, path };
  }
  return { steps, path };
}

function serviceTree(name: string, live: Live, role: string, seen: Set<string> = new Set()): TraceService {
  const svc = live.services.get(name);
  if (!svc) return { name, type: '', status: ObjectStatus.OBJECT_STATUS_DISABLED, errors: [`the service "${name}" does not exist`], servers: [], healthCheck: false, children: [], role, note: 'does not exist' };
  const type = String(svc.type ?? '');
  const base: TraceService = { name, type, status: status(svc.status), errors: svc.error ?? [], servers: [], healthCheck: false, children: [], role, note: '' };
  if (seen.has(name)) return { ...base, note: 'refers back to itself' };
  seen.add(name);
  const lb = svc.loadBalancer as { servers?: { url?: string }[]; healthCheck?: unknown } | undefined;
  const weighted = svc.weighted as { services?: { name: string; weight?: number }[]; healthCheck?: unknown } | undefined;
  const mirroring = svc.mirroring as { service?: string; mirrors?: { name: string; percent?: number }[] } | undefined;
  const failover = svc.failover as { service?: string; fallback?: string } | undefined;
  if (lb) {
    const st = (svc.serverStatus ?? {}) as Record<string, string>;
    base.servers = (lb.servers ?? []).map((s) => ({ url: s.url ?? '', status: st[s.url ?? ''] ?? '' }));
    base.healthCheck = Boolean(lb.healthCheck);
    const up = base.servers.filter((s) => s.status === 'UP').length;
    base.note = !base.servers.length ? 'no servers: Traefik answers 503' : `${up} of ${base.servers.length} server${base.servers.length > 1 ? 's' : ''} up${base.healthCheck ? '' : ' (no health check: Traefik reports every server UP without probing it)'}`;
  } else if (weighted) {
    base.children = (weighted.services ?? []).map((c) => serviceTree(qualify(c.name, svc.provider), live, `weight ${c.weight ?? 1}`, seen));
    // Without a healthCheck on the weighted service, a member with no server up keeps its share of requests.
    base.note = `splits requests by weight${weighted.healthCheck ? '; skips members without a server up (healthCheck set)' : '; a member with no server up still gets its share (no healthCheck on the weighted service)'}`;
  } else if (mirroring) {
    base.children = [serviceTree(qualify(mirroring.service ?? '', svc.provider), live, 'main', seen), ...(mirroring.mirrors ?? []).map((m) => serviceTree(qualify(m.name, svc.provider), live, `mirror ${m.percent ?? 0}%`, seen))];
    base.note = 'answers from the main service; mirrors get copies whose answers are dropped';
  } else if (failover) {
    base.children = [serviceTree(qualify(failover.service ?? '', svc.provider), live, 'main', seen), serviceTree(qualify(failover.fallback ?? '', svc.provider), live, 'fallback', seen)];
    base.note = 'uses the main service while it has a server up, else the fallback';
  } else if (svc.provider === 'internal') base.note = 'Traefik\'s own service';
  return base;
}

/** Whether the service can answer: a server up somewhere on the path requests take. */
function alive(s: TraceService): boolean {
  if (s.status === ObjectStatus.OBJECT_STATUS_DISABLED) return false;
  if (s.type === 'loadbalancer') return s.servers.some((x) => x.status === 'UP');
  if (s.type === 'weighted') return s.children.some(alive);
  if (s.type === 'mirroring') return s.children[0] ? alive(s.children[0]) : false;
  if (s.type === 'failover') return s.children.some(alive);
  return true;
}

function deadMembers(s: TraceService): string[] {
  if (s.type === 'weighted') return s.children.flatMap((c) => (alive(c) ? deadMembers(c) : [c.name]));
  return s.children.flatMap(deadMembers);
}

interface HopResult { hop: TraceHop; outcome: TraceOutcome; httpStatus: number; next?: string }

async function traceHop(href: string, req: TraceRequestRequest, live: Live, tlsCheck: (host: string) => Promise<CertificateReport | undefined>): Promise<HopResult> {
  const url = new URL(href);
  const method = (req.method || 'GET').toUpperCase();
  const tls = url.protocol === 'https:';
  const portStr = url.port || (tls ? '443' : '80');
  const request = facts(url, method, req.headers, req.clientIp);
  const hop: TraceHop = { url: url.href, method, routers: [], winner: '', nearMisses: [], middlewares: [], redirectTo: '', summary: '' };
  const ep = live.entryPoints.find((e) => port(e.address) === portStr);
  const all = live.routers.map((r) => evaluate(r, request));
  if (!ep) {
    hop.nearMisses = nearMisses(all, undefined, '', tls, request, live);
    hop.summary = `No entry point listens on port ${portStr} (${live.entryPoints.map((e) => `${e.name} ${e.address}`).join(', ')}).`;
    return { hop, outcome: TraceOutcome.TRACE_OUTCOME_NO_ENTRY_POINT, httpStatus: 0 };
  }
  const redirection = ep.http?.redirections?.entryPoint;
  hop.entryPoint = { name: ep.name, address: ep.address, tls, redirection: redirection?.to ? `${redirection.to} (${redirection.scheme ?? 'https'}${redirection.permanent === false ? '' : ', permanent'})` : '' };
  // runtime.GetRoutersByEntryPoints(tls): a TLS connection only ever sees routers with TLS, a plain one only routers without.
  const candidates = all
    .filter((e) => eps(e.router).includes(ep.name) && Boolean(e.router.tls) === tls && e.router.status !== 'disabled')
    .sort((a, b) => (a.priority === b.priority ? a.router.name.localeCompare(b.router.name) : a.priority > b.priority ? -1 : 1));
  hop.routers = candidates.map((c) => c.trace);
  const winner = candidates.find((c) => c.matched);
  hop.nearMisses = nearMisses(all, winner, ep.name, tls, request, live);
  const tlsRouter = winner?.router ?? all.find((e) => e.hostMatched && e.router.tls)?.router;
  if (tls) {
    hop.tls = { router: tlsRouter?.name ?? '', routerTls: Boolean(tlsRouter?.tls), certResolver: tlsRouter?.tls?.certResolver ?? '', options: tlsRouter?.tls?.options ?? '' };
    if (!req.skipTlsCheck) hop.tls.certificate = await tlsCheck(request.host);
  }
  if (!winner) {
    const best = hop.nearMisses[0];
    hop.summary = `${method} ${url.href} reaches entry point ${ep.name}, but no enabled ${tls ? 'TLS ' : ''}router there matches: Traefik answers 404.${best ? ` Nearest: ${best.router}: ${best.detail}.` : ''}`;
    return { hop, outcome: TraceOutcome.TRACE_OUTCOME_NOT_FOUND, httpStatus: 404 };
  }
  hop.winner = winner.router.name;
  const mwNames = [...(ep.http?.middlewares ?? []).map((m) => ({ name: qualify(m, 'file'), source: `entry point ${ep.name}` })), ...(winner.router.middlewares ?? []).map((m) => ({ name: qualify(m, winner.router.provider), source: `router ${winner.router.name}` }))];
  const mw = walkMiddlewares(mwNames, live, url, request);
  hop.middlewares = mw.steps;
  const head = `${method} ${url.href} -> entry point ${ep.name} -> router ${winner.router.name} (priority ${winner.priority})`;
  if (mw.redirect) {
    hop.redirectTo = mw.redirect;
    hop.summary = `${head} -> ${mw.steps.at(-1)?.name} redirects to ${mw.redirect}.`;
    return { hop, outcome: TraceOutcome.TRACE_OUTCOME_ROUTED, httpStatus: 308, next: mw.redirect };
  }
  if (mw.stop) {
    hop.summary = `${head} -> stopped: ${mw.stop.why} (${mw.stop.status}).`;
    return { hop, outcome: TraceOutcome.TRACE_OUTCOME_STOPPED_BY_MIDDLEWARE, httpStatus: mw.stop.status };
  }
  const service = serviceTree(qualify(winner.router.service ?? '', winner.router.provider), live, '');
  hop.service = service;
  const through = mw.steps.length ? ` -> ${mw.steps.map((s) => `${s.name} (${s.type}${s.type === 'forwardauth' ? ` ${String(((s.config as Record<string, Record<string, unknown>>).forwardAuth ?? {}).address ?? '')}` : ''})`).join(' -> ')}` : '';
  if (!alive(service)) {
    hop.summary = `${head}${through} -> service ${service.name}: ${service.errors[0] ?? service.note}; the client gets 503.`;
    return { hop, outcome: TraceOutcome.TRACE_OUTCOME_NO_SERVER, httpStatus: 503 };
  }
  const dead = deadMembers(service);
  const servers = service.servers.length ? `: ${service.servers.map((s) => `${s.url} ${s.status}`).join(', ')}` : '';
  hop.summary = `${head}${through} -> service ${service.name}${servers}.${dead.length ? ` Part of the traffic fails: ${dead.join(', ')} ha${dead.length > 1 ? 've' : 's'} no server up.` : ''}`;
  return { hop, outcome: TraceOutcome.TRACE_OUTCOME_ROUTED, httpStatus: 0 };
}

/** trace_request: hop by hop, following redirects Traefik itself answers. */
export async function traceRequest(api: TraefikApi, websecure: string | undefined, req: TraceRequestRequest, signal: AbortSignal, snapshots?: RawDataSnapshots): Promise<TraceRequestResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new ShardError('INVALID_ARGUMENT', `url is not a URL: ${JSON.stringify(req.url.slice(0, 100))}`, { fieldViolations: [{ field: 'url', description: 'not an absolute URL' }], hint: 'Give the full URL, e.g. "https://gitea.home.lan/api/v1/version".' });
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new ShardError('INVALID_ARGUMENT', `url must be http or https, not ${url.protocol}`, { fieldViolations: [{ field: 'url', description: 'scheme must be http or https' }] });
  if (req.clientIp && !/^[0-9a-fA-F:.]+$/.test(req.clientIp)) throw new ShardError('INVALID_ARGUMENT', `client_ip is not an IP address: ${JSON.stringify(req.clientIp)}`, { fieldViolations: [{ field: 'client_ip', description: 'IPv4 or IPv6 address' }], hint: 'e.g. "192.168.1.20"' });
  const live = await readLive(api, signal, req.snapshot ? snapshots?.get(req.snapshot) : undefined);
  const tlsCheck = async (host: string) => (await checkSslStatus(api, websecure, { hosts: [host], address: '', timeoutMs: 5000 }, signal, live.raw)).reports[0];
  const hops: TraceHop[] = [];
  const seen = new Set<string>();
  let href = url.href;
  for (;;) {
    seen.add(href);
    const r = await traceHop(href, req, live, tlsCheck);
    hops.push(r.hop);
    const trail = hops.map((h) => h.summary).join(' ');
    if (!r.next) return { summary: trail, outcome: r.outcome, httpStatus: r.httpStatus, hops };
    if (seen.has(r.next) || hops.length >= MAX_HOPS) return { summary: `${trail} The redirects loop (${[...seen, r.next].join(' -> ')}).`, outcome: TraceOutcome.TRACE_OUTCOME_REDIRECT_LOOP, httpStatus: r.httpStatus, hops };
    const next = new URL(r.next);
    const nextPort = next.port || (next.protocol === 'https:' ? '443' : '80');
    if (!live.entryPoints.some((e) => port(e.address) === nextPort)) return { summary: `${trail} Traefik has no entry point on port ${nextPort}: the client leaves Traefik.`, outcome: TraceOutcome.TRACE_OUTCOME_REDIRECTED_AWAY, httpStatus: r.httpStatus, hops };
    href = next.href;
  }
}
