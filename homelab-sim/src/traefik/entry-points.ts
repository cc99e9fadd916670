/**
 * Traefik's static entry points as its API shows them (/api/entrypoints), and
 * the routers Traefik's internal provider derives from their redirections
 * (pkg/provider/traefik/internal.go).
 */
import type { DynamicConfig } from './runtime.js';

export interface EntryPointRedirection {
  to: string;
  scheme?: string;
  permanent?: boolean;
  priority?: number | string;
}

export interface EntryPointConfig {
  address: string;
  /** Routers without entryPoints use the entry points flagged asDefault, or all of them when none is. */
  asDefault?: boolean;
  http?: {
    redirections?: { entryPoint?: EntryPointRedirection };
    middlewares?: string[];
    tls?: { certResolver?: string; options?: string; domains?: { main?: string; sans?: string[] }[] };
  };
}

/** math.MaxInt - 1 on 64-bit Go: RedirectEntryPoint.SetDefaults' priority, so the redirect beats every user router. */
export const REDIRECT_PRIORITY = '9223372036854775806';
/** math.MaxInt - 1000: above it, only @internal routers are accepted (pkg/server/router/router.go). */
export const MAX_USER_PRIORITY = 9223372036854774807n;

/** The usual homelab: web redirects everything to websecure; traefik serves the API and dashboard. */
export function homelabEntryPoints(): Record<string, EntryPointConfig> {
  return {
    traefik: { address: ':8080' },
    web: { address: ':80', http: { redirections: { entryPoint: { to: 'websecure', scheme: 'https', permanent: true } } } },
    websecure: { address: ':443' },
  };
}

/**
 * cmd/traefik getDefaultsEntrypoints: all entry points, or only those with
 * asDefault when any has it, never the internal `traefik` one, sorted.
 */
export function defaultEntryPoints(eps: Record<string, EntryPointConfig>): string[] {
  const flagged = Object.values(eps).some((e) => e.asDefault);
  return Object.entries(eps)
    .filter(([name, e]) => name !== 'traefik' && !/\/udp$/i.test(e.address) && (!flagged || e.asDefault))
    .map(([name]) => name)
    .sort();
}

function port(address: string): string | undefined {
  return /:(\d+)(\/\w+)?$/.exec(address)?.[1];
}

/** provider.Normalize: anything but letters and digits becomes "-". */
export function normalizeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9]+/g, '-');
}

/**
 * The internal provider's redirection routers: `<ep>-to-<to>` with rule
 * HostRegexp(`^.+$`), a redirectScheme middleware `redirect-<ep>-to-<to>` and
 * the noop@internal service. A missing target entry point means no router at
 * all (Traefik only logs the error).
 */
export function redirectionConfig(eps: Record<string, EntryPointConfig>): DynamicConfig {
  const routers: Record<string, NonNullable<NonNullable<DynamicConfig['http']>['routers']>[string]> = {};
  const middlewares: Record<string, Record<string, unknown>> = {};
  for (const [name, ep] of Object.entries(eps)) {
    const def = ep.http?.redirections?.entryPoint;
    if (!def?.to) continue;
    const toPort = /^:\d+$/.test(def.to) ? def.to.slice(1) : eps[def.to] ? port(eps[def.to]!.address) : undefined;
    if (!toPort) continue;
    const rt = normalizeName(`${name}-to-${def.to}`);
    routers[rt] = { rule: 'HostRegexp(`^.+$`)', ruleSyntax: 'default', entryPoints: [name], middlewares: [`redirect-${rt}`], service: 'noop@internal', priority: String(def.priority ?? REDIRECT_PRIORITY) };
    middlewares[`redirect-${rt}`] = { redirectScheme: { scheme: def.scheme ?? 'https', port: toPort, permanent: def.permanent ?? true } };
  }
  return Object.keys(routers).length ? { http: { routers, middlewares, services: { noop: {} } } } : {};
}

/** /api/entrypoints items: name, address, and the http block as configured. */
export function entryPointItems(eps: Record<string, EntryPointConfig>): { name: string; address: string; http: Record<string, unknown> }[] {
  return Object.entries(eps).map(([name, e]) => ({
    address: e.address,
    http: {
      ...(e.http?.redirections?.entryPoint ? { redirections: { entryPoint: { scheme: 'https', permanent: true, priority: Number(REDIRECT_PRIORITY), ...e.http.redirections.entryPoint } } } : {}),
      ...(e.http?.middlewares ? { middlewares: e.http.middlewares } : {}),
      ...(e.http?.tls ? { tls: e.http.tls } : {}),
    },
    name,
  }));
}
