import type { MiddlewareRepresentation, Router, RouterRepresentation, Service, ServiceRepresentation, Status } from '@homelab-mcp/upstream-types/traefik.js';
import { defaultEntryPoints, homelabEntryPoints, MAX_USER_PRIORITY, redirectionConfig, type EntryPointConfig } from './entry-points.js';

export type { Status };
/** The configuration of a router (dynamic.Router) and of a service (dynamic.Service). */
export type RouterConfig = Router;
export type ServiceConfig = Service;

export interface DynamicConfig {
  http?: { routers?: Record<string, RouterConfig>; services?: Record<string, ServiceConfig>; middlewares?: Record<string, Record<string, unknown>> };
  tcp?: { routers?: Record<string, RouterConfig>; services?: Record<string, ServiceConfig> };
  udp?: { routers?: Record<string, RouterConfig>; services?: Record<string, ServiceConfig> };
  tls?: unknown;
}

export type RuntimeRouter = RouterRepresentation;
export type RuntimeService = ServiceRepresentation;
export type RuntimeMiddleware = MiddlewareRepresentation;

/**
 * Traefik's runtime view of a dynamic configuration, computed the way
 * pkg/config/runtime does: objects named name@provider, bare references
 * resolved within the provider, and status/errors for broken references.
 */
export interface Runtime {
  routers: Map<string, RuntimeRouter>;
  services: Map<string, RuntimeService>;
  middlewares: Map<string, RuntimeMiddleware>;
  tcpRouters: Map<string, RuntimeRouter>;
  tcpServices: Map<string, RuntimeService>;
  udpRouters: Map<string, RuntimeRouter>;
  udpServices: Map<string, RuntimeService>;
  /** The static entry points the runtime was built for. */
  entryPoints?: Record<string, EntryPointConfig>;
}

export const ENTRY_POINTS = Object.keys(homelabEntryPoints());

function qualify(name: string, provider: string): string {
  return name.includes('@') ? name : `${name}@${provider}`;
}

function add<T>(map: Map<string, T>, key: string, value: T): void {
  // The same name from two sources: the first one wins (provider.Merge, skip duplicates).
  if (!map.has(key)) map.set(key, value);
}

/** The services a weighted, mirroring or failover service builds first. */
function childServices(svc: ServiceConfig): string[] {
  if (svc.weighted) return (svc.weighted.services ?? []).map((s) => s.name);
  if (svc.mirroring) return [svc.mirroring.service ?? '', ...(svc.mirroring.mirrors ?? []).map((m) => m.name)].filter(Boolean);
  if (svc.failover) return [svc.failover.service ?? '', svc.failover.fallback ?? ''].filter(Boolean);
  return [];
}

const SERVICE_KINDS = ['loadBalancer', 'weighted', 'mirroring', 'failover', 'highestRandomWeight'];

/**
 * Builds the runtime view from each provider's dynamic configuration and the
 * static entry points, with the statuses and error texts Traefik v3 gives.
 * A server is DOWN only when its service has a health check that says so:
 * without one Traefik never probes and reports every server UP.
 */
export function buildRuntime(
  providers: Record<string, DynamicConfig>,
  serverHealth: (url: string) => 'UP' | 'DOWN',
  entryPoints: Record<string, EntryPointConfig> = homelabEntryPoints(),
): Runtime {
  const rt: Runtime = { routers: new Map(), services: new Map(), middlewares: new Map(), tcpRouters: new Map(), tcpServices: new Map(), udpRouters: new Map(), udpServices: new Map(), entryPoints };
  const redirections = redirectionConfig(entryPoints);
  const internal = providers.internal ?? {};
  const all: Record<string, DynamicConfig> = {
    ...providers,
    internal: {
      ...internal,
      http: {
        ...internal.http,
        routers: { ...redirections.http?.routers, ...internal.http?.routers },
        middlewares: { ...redirections.http?.middlewares, ...internal.http?.middlewares },
        services: { ...redirections.http?.services, ...internal.http?.services },
      },
    },
  };
  const epNames = Object.keys(entryPoints);
  const defaults = defaultEntryPoints(entryPoints);
  for (const [provider, cfg] of Object.entries(all)) {
    for (const [name, svc] of Object.entries(cfg.http?.services ?? {})) {
      const lb = svc.loadBalancer;
      const servers = lb?.servers ?? [];
      const checked = Boolean(lb?.healthCheck);
      add(rt.services, `${name}@${provider}`, {
        ...svc,
        ...(lb ? { loadBalancer: { ...lb, passHostHeader: lb.passHostHeader ?? true } } : {}),
        name: `${name}@${provider}`,
        provider,
        status: 'enabled',
        type: (Object.keys(svc).find((k) => SERVICE_KINDS.includes(k)) ?? '').toLowerCase(),
        ...(servers.length ? { serverStatus: Object.fromEntries(servers.map((s) => [s.url ?? '', checked ? serverHealth(s.url ?? '') : 'UP'])) } : {}),
      });
    }
    for (const [name, mw] of Object.entries(cfg.http?.middlewares ?? {})) {
      add(rt.middlewares, `${name}@${provider}`, { ...mw, name: `${name}@${provider}`, provider, status: 'enabled', type: (Object.keys(mw)[0] ?? '').toLowerCase() });
    }
    for (const [name, svc] of Object.entries(cfg.tcp?.services ?? {})) {
      add(rt.tcpServices, `${name}@${provider}`, { ...svc, name: `${name}@${provider}`, provider, status: 'enabled', type: 'loadbalancer' });
    }
    for (const [name, svc] of Object.entries(cfg.udp?.services ?? {})) {
      add(rt.udpServices, `${name}@${provider}`, { ...svc, name: `${name}@${provider}`, provider, status: 'enabled', type: 'loadbalancer' });
    }
  }
  // A weighted/mirroring/failover service whose child is missing fails to
  // build: it is disabled with the child's error (pkg/server/service/service.go).
  const serviceError = (name: string, seen: Set<string> = new Set()): string | undefined => {
    const svc = rt.services.get(name);
    if (!svc) return `the service "${name}" does not exist`;
    if (seen.has(name)) return undefined;
    seen.add(name);
    for (const child of childServices(svc)) {
      const err = serviceError(qualify(child, svc.provider), seen);
      if (err) {
        svc.status = 'disabled';
        svc.error = [...new Set([...(svc.error ?? []), err])];
        return err;
      }
    }
    return undefined;
  };
  for (const name of rt.services.keys()) serviceError(name);

  for (const [provider, cfg] of Object.entries(all)) {
    const routers: [Record<string, RouterConfig> | undefined, Map<string, RuntimeRouter>, Map<string, RuntimeService>][] = [
      [cfg.http?.routers, rt.routers, rt.services],
      [cfg.tcp?.routers, rt.tcpRouters, rt.tcpServices],
      [cfg.udp?.routers, rt.udpRouters, rt.udpServices],
    ];
    for (const [defs, target, services] of routers) {
      for (const [name, r] of Object.entries(defs ?? {})) {
        const full = `${name}@${provider}`;
        if (target.has(full)) continue;
        const errors: string[] = [];
        let status: Status = 'enabled';
        const fail = (e: string, critical = true) => {
          if (!errors.includes(e)) errors.push(e);
          if (critical) status = 'disabled';
          else if (status !== 'disabled') status = 'warning';
        };
        const eps = r.entryPoints?.length ? r.entryPoints : defaults;
        // runtime.GetRoutersByEntryPoints: an unknown entry point is only a warning; none left disables.
        for (const ep of eps) if (!epNames.includes(ep)) fail(`entryPoint "${ep}" doesn't exist`, false);
        const using = [...new Set(eps.filter((ep) => epNames.includes(ep)))].sort();
        if (!using.length) fail('no valid entryPoint for this router');
        // An entry point's http.tls gives its routers TLS (the entry-point model, applyModel).
        const epTls = using.map((ep) => entryPoints[ep]?.http?.tls).find(Boolean);
        const tls = r.tls ?? (target === rt.routers ? epTls : undefined);
        // The router manager writes the computed priority back into the router, so the API shows it.
        const priority = BigInt(String(r.priority ?? 0)) || BigInt((r.rule ?? '').length);
        if (target === rt.routers && using.length) {
          if (priority > MAX_USER_PRIORITY && provider !== 'internal') fail(`the router priority ${priority} exceeds the max user-defined priority ${MAX_USER_PRIORITY}`);
          else if (!r.service) fail('router has no service and no child routers');
          else {
            // The service is built before the middleware chain, so a missing service hides missing middlewares.
            const svcName = qualify(r.service, provider);
            const svc = services.get(svcName);
            const svcErr = svc?.status === 'disabled' ? (svc.error ?? []).join(', ') : svc ? undefined : `the service "${svcName}" does not exist`;
            if (svcErr) fail(svcErr);
            else {
              // alice builds a chain from its last constructor to its first: the last missing middleware is the one reported.
              const missing = (r.middlewares ?? []).map((m) => qualify(m, provider)).filter((m) => !rt.middlewares.has(m));
              if (missing.length) fail(`middleware "${missing.at(-1)}" does not exist`);
            }
          }
        } else if (r.service && !services.get(qualify(r.service, provider))) fail(`the service "${qualify(r.service, provider)}" does not exist`);
        const svc = r.service ? services.get(qualify(r.service, provider)) : undefined;
        if (svc) svc.usedBy = [...new Set([...(svc.usedBy ?? []), full])].sort();
        if (target === rt.routers) {
          for (const m of r.middlewares ?? []) {
            const mw = rt.middlewares.get(qualify(m, provider));
            if (mw) mw.usedBy = [...new Set([...(mw.usedBy ?? []), full])].sort();
          }
        }
        target.set(full, {
          ...r,
          entryPoints: eps,
          ...(tls ? { tls } : {}),
          ...(r.middlewares ? { middlewares: r.middlewares.map((m) => qualify(m, provider)) } : {}),
          ...(r.service ? { service: r.service } : {}),
          name: full,
          provider,
          priority: Number(priority),
          priorityStr: String(priority),
          status,
          ...(errors.length ? { error: errors } : {}),
          ...(using.length ? { using } : {}),
        });
      }
    }
  }
  return rt;
}
