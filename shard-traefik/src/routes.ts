import { ObjectStatus, Protocol, Route, type GetRoutesRequest, type GetRoutesResponse } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { RawDataSnapshots } from './upstream/snapshots.js';
import { rawItems, type ApiRouter, type ApiService, type RawData, type TraefikApi } from './upstream/traefik-api.js';

/**
 * Values of matcher calls in a rule, e.g. Host(`a`, `b`) -> [a, b]. Linear in
 * the rule: the argument list is found with indexOf, not with a [^)]* that
 * would rescan the rest of the rule from every matcher without a ")".
 */
export function ruleValues(rule: string, matchers: string[]): string[] {
  const out: string[] = [];
  const call = new RegExp(`\\b(?:${matchers.join('|')})\\(`, 'g');
  for (let m = call.exec(rule); m; m = call.exec(rule)) {
    const close = rule.indexOf(')', call.lastIndex);
    if (close === -1) break;
    for (const v of rule.slice(call.lastIndex, close).matchAll(/[`"]([^`"]*)[`"]/g)) if (v[1]) out.push(v[1]);
    call.lastIndex = close + 1;
  }
  return out;
}

/** Traefik's status word as the contract's enum. */
export function status(s: string | undefined): ObjectStatus {
  switch ((s ?? '').toLowerCase()) {
    case 'enabled':
      return ObjectStatus.OBJECT_STATUS_ENABLED;
    case 'warning':
      return ObjectStatus.OBJECT_STATUS_WARNING;
    case 'disabled':
      return ObjectStatus.OBJECT_STATUS_DISABLED;
    default:
      return ObjectStatus.OBJECT_STATUS_UNSPECIFIED;
  }
}

/** A bare reference resolves within the referring object's provider. */
export function qualify(name: string, provider: string): string {
  return name.includes('@') ? name : `${name}@${provider}`;
}

/** A router as the tool shows it, with its service's servers and their health. */
export function toRoute(r: ApiRouter, protocol: Protocol, services: Map<string, ApiService>): Route {
  const service = r.service ? qualify(r.service, r.provider) : '';
  const svc = services.get(service);
  const servers = Object.entries(svc?.serverStatus ?? {}).map(([url, st]) => ({ url, status: st }));
  const known = new Set(servers.map((s) => s.url));
  for (const s of svc?.loadBalancer?.servers ?? []) {
    const url = s.url ?? s.address ?? '';
    if (url && !known.has(url)) servers.push({ url, status: '' });
  }
  const rule = r.rule ?? '';
  return Route.fromPartial({
    name: r.name,
    provider: r.provider,
    protocol,
    rule,
    hosts: ruleValues(rule, ['Host', 'HostSNI']),
    paths: ruleValues(rule, ['PathPrefix', 'Path']),
    entryPoints: r.entryPoints ?? [],
    // priorityStr keeps the exact value; priorities can exceed 2^53.
    priority: r.priorityStr ?? (r.priority !== undefined ? String(r.priority) : '0'),
    ...(r.tls ? { tls: { certResolver: r.tls.certResolver ?? '', options: r.tls.options ?? '', domains: (r.tls.domains ?? []).flatMap((d) => [d.main ?? '', ...(d.sans ?? [])]).filter(Boolean), passthrough: Boolean(r.tls.passthrough) } } : {}),
    middlewares: r.middlewares ?? [],
    service,
    servers,
    status: status(r.status),
    errors: r.error ?? [],
  });
}

/** Each protocol's routers and services in Traefik's raw data. */
const PROTOCOLS: [Protocol, (raw: RawData) => [RawData['routers'], RawData['services']]][] = [
  [Protocol.PROTOCOL_HTTP, (raw) => [raw.routers, raw.services]],
  [Protocol.PROTOCOL_TCP, (raw) => [raw.tcpRouters, raw.tcpServices]],
  [Protocol.PROTOCOL_UDP, (raw) => [raw.udpRouters, raw.udpServices]],
];

function matches(route: Route, req: GetRoutesRequest): boolean {
  if (req.host && !route.hosts.some((h) => h.toLowerCase() === req.host.toLowerCase())) return false;
  if (req.service) {
    const want = req.service.includes('@') ? req.service : `${req.service}@`;
    if (req.service.includes('@') ? route.service !== want : !route.service.startsWith(want)) return false;
  }
  if (req.name && !route.name.toLowerCase().includes(req.name.toLowerCase())) return false;
  if (req.provider && route.provider !== req.provider) return false;
  if (req.status !== ObjectStatus.OBJECT_STATUS_UNSPECIFIED && route.status !== req.status) return false;
  return true;
}

/** The routes of a runtime configuration that pass the filters, sorted by name. */
export function routesOf(raw: RawData, req: GetRoutesRequest): { routes: Route[]; total: number } {
  const routes: Route[] = [];
  let total = 0;
  for (const [protocol, of] of PROTOCOLS) {
    if (req.protocol !== Protocol.PROTOCOL_UNSPECIFIED && req.protocol !== protocol) continue;
    const [routers, services] = of(raw);
    const all = rawItems<ApiRouter>(routers);
    total += all.length;
    const byName = new Map(rawItems<ApiService>(services).map((s) => [s.name, s]));
    for (const r of all) {
      const route = toRoute(r, protocol, byName);
      if (matches(route, req)) routes.push(route);
    }
  }
  routes.sort((a, b) => a.name.localeCompare(b.name));
  return { routes, total };
}

/** get_routes: every router of the asked protocols, with servers, filtered; one request to Traefik (its raw data), kept as a snapshot when there is a place for it. */
export async function getRoutes(api: TraefikApi, req: GetRoutesRequest, signal: AbortSignal, snapshots?: RawDataSnapshots): Promise<GetRoutesResponse> {
  const { raw, text } = await api.rawDataRead(signal);
  return { ...routesOf(raw, req), snapshot: snapshots?.keep(text) ?? '' };
}
