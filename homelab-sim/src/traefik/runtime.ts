/**
 * Traefik's runtime view of a dynamic configuration, computed the way
 * pkg/config/runtime does: objects named name@provider, bare references
 * resolved within the provider, and status/errors for broken references.
 */
export type Status = 'enabled' | 'disabled' | 'warning';

export interface RouterConfig {
  entryPoints?: string[];
  middlewares?: string[];
  service?: string;
  rule?: string;
  /** A number, or a string of digits for values beyond 2^53 (Traefik's priorityStr keeps them exact). */
  priority?: number | string;
  tls?: { certResolver?: string; options?: string; domains?: { main?: string; sans?: string[] }[] } | Record<string, never>;
}

export interface ServiceConfig {
  loadBalancer?: { servers?: { url?: string; address?: string }[]; passHostHeader?: boolean; healthCheck?: Record<string, unknown> };
  [kind: string]: unknown;
}

export interface DynamicConfig {
  http?: { routers?: Record<string, RouterConfig>; services?: Record<string, ServiceConfig>; middlewares?: Record<string, Record<string, unknown>> };
  tcp?: { routers?: Record<string, RouterConfig>; services?: Record<string, ServiceConfig> };
  udp?: { routers?: Record<string, RouterConfig>; services?: Record<string, ServiceConfig> };
  tls?: unknown;
}

export interface RuntimeRouter extends RouterConfig {
  name: string;
  provider: string;
  status: Status;
  error?: string[];
  using?: string[];
  priorityStr?: string;
}

export interface RuntimeService extends ServiceConfig {
  name: string;
  provider: string;
  status: Status;
  type: string;
  serverStatus?: Record<string, string>;
  usedBy?: string[];
  error?: string[];
}

export interface RuntimeMiddleware {
  name: string;
  provider: string;
  status: Status;
  type: string;
  usedBy?: string[];
  error?: string[];
  [k: string]: unknown;
}

export interface Runtime {
  routers: Map<string, RuntimeRouter>;
  services: Map<string, RuntimeService>;
  middlewares: Map<string, RuntimeMiddleware>;
  tcpRouters: Map<string, RuntimeRouter>;
  tcpServices: Map<string, RuntimeService>;
  udpRouters: Map<string, RuntimeRouter>;
  udpServices: Map<string, RuntimeService>;
}

export const ENTRY_POINTS = ['web', 'websecure', 'traefik'];

function qualify(name: string, provider: string): string {
  return name.includes('@') ? name : `${name}@${provider}`;
}

function add<T>(map: Map<string, T>, key: string, value: T): void {
  // The same name from two sources: the first one wins (provider.Merge, skip duplicates).
  if (!map.has(key)) map.set(key, value);
}

/** Builds the runtime view from each provider's dynamic configuration. */
export function buildRuntime(providers: Record<string, DynamicConfig>, serverHealth: (url: string) => 'UP' | 'DOWN'): Runtime {
  const rt: Runtime = { routers: new Map(), services: new Map(), middlewares: new Map(), tcpRouters: new Map(), tcpServices: new Map(), udpRouters: new Map(), udpServices: new Map() };
  for (const [provider, cfg] of Object.entries(providers)) {
    for (const [name, svc] of Object.entries(cfg.http?.services ?? {})) {
      const servers = svc.loadBalancer?.servers ?? [];
      add(rt.services, `${name}@${provider}`, {
        ...svc,
        ...(svc.loadBalancer ? { loadBalancer: { passHostHeader: true, ...svc.loadBalancer } } : {}),
        name: `${name}@${provider}`,
        provider,
        status: 'enabled',
        type: Object.keys(svc)[0]?.toLowerCase() ?? 'loadbalancer',
        ...(servers.length ? { serverStatus: Object.fromEntries(servers.map((s) => [s.url ?? '', serverHealth(s.url ?? '')])) } : {}),
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
  for (const [provider, cfg] of Object.entries(providers)) {
    const routers: [Record<string, RouterConfig> | undefined, Map<string, RuntimeRouter>, Map<string, RuntimeService>][] = [
      [cfg.http?.routers, rt.routers, rt.services],
      [cfg.tcp?.routers, rt.tcpRouters, rt.tcpServices],
      [cfg.udp?.routers, rt.udpRouters, rt.udpServices],
    ];
    for (const [defs, target, services] of routers) {
      for (const [name, r] of Object.entries(defs ?? {})) {
        const full = `${name}@${provider}`;
        const errors: string[] = [];
        const eps = r.entryPoints?.length ? r.entryPoints : ENTRY_POINTS.filter((e) => e !== 'traefik');
        for (const ep of eps) if (!ENTRY_POINTS.includes(ep)) errors.push(`entryPoint "${ep}" doesn't exist`);
        const svcName = r.service ? qualify(r.service, provider) : '';
        const svc = services.get(svcName);
        if (!r.service) errors.push('the service is missing on the router');
        else if (!svc) errors.push(`the service "${svcName}" does not exist`);
        else svc.usedBy = [...(svc.usedBy ?? []), full].sort();
        if (target === rt.routers) {
          for (const m of r.middlewares ?? []) {
            const mw = rt.middlewares.get(qualify(m, provider));
            if (!mw) errors.push(`middleware "${qualify(m, provider)}" does not exist`);
            else mw.usedBy = [...(mw.usedBy ?? []), full].sort();
          }
        }
        add(target, full, {
          ...r,
          entryPoints: eps,
          name: full,
          provider,
          ...(r.priority !== undefined ? { priority: Number(r.priority) } : {}),
          priorityStr: String(r.priority ?? 0),
          status: errors.length ? 'disabled' : 'enabled',
          ...(errors.length ? { error: errors } : { using: eps }),
        });
      }
    }
  }
  return rt;
}
