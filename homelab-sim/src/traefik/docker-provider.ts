/**
 * Traefik's Docker provider over a list of containers: dynamic configuration
 * from `traefik.*` labels (pkg/provider/docker/config.go), so a container that
 * stops takes its routers and services with it.
 */
import { normalizeName } from './entry-points.js';
import { parseGoBool } from '@homelab-mcp/upstream-types/traefik.js';
import type { DynamicConfig } from './runtime.js';

export interface SimContainerSpec {
  name: string;
  /** Docker's state: running, exited, restarting, paused, created, dead. */
  state: string;
  /** Health from the image's HEALTHCHECK, when it has one: healthy, unhealthy, starting. */
  health?: string;
  image?: string;
  /** Address on the network Traefik shares with it. */
  ip?: string;
  /** Exposed ports (container side). */
  ports?: number[];
  labels?: Record<string, string>;
  /** Log lines, oldest first (for the Dozzle stand-in and scenarios). */
  logs?: string[];
}

// Label keys are matched case-insensitively (paerser); the configuration uses these spellings.
const FIELDS = Object.fromEntries(
  ['entryPoints', 'middlewares', 'service', 'rule', 'ruleSyntax', 'priority', 'tls', 'certResolver', 'options', 'loadBalancer', 'server', 'port', 'scheme', 'url', 'passHostHeader', 'healthCheck', 'path', 'interval', 'timeout',
    'forwardAuth', 'address', 'trustForwardHeader', 'authResponseHeaders', 'stripPrefix', 'prefixes', 'redirectScheme', 'permanent', 'redirectRegex', 'regex', 'replacement', 'basicAuth', 'users', 'realm',
    'ipAllowList', 'sourceRange', 'headers', 'customRequestHeaders', 'customResponseHeaders', 'stsSeconds', 'frameDeny', 'chain', 'addPrefix', 'prefix', 'rateLimit', 'average', 'burst', 'weighted', 'services', 'mirroring', 'failover', 'fallback']
    .map((f) => [f.toLowerCase(), f]),
);
const LISTS = new Set(['entryPoints', 'middlewares', 'prefixes', 'users', 'sourceRange', 'authResponseHeaders']);

function convert(field: string, value: string): unknown {
  if (LISTS.has(field)) return value.split(',').map((v) => v.trim()).filter(Boolean);
  if (value === 'true' || value === 'false') return value === 'true';
  if (['priority', 'stsSeconds', 'average', 'burst'].includes(field) && /^\d+$/.test(value)) return Number(value);
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], value: string): void {
  let node = target;
  path.forEach((raw, i) => {
    const key = FIELDS[raw.toLowerCase()] ?? raw;
    if (i === path.length - 1) node[key] = convert(key, value);
    else node = (node[key] = typeof node[key] === 'object' && node[key] !== null ? node[key] : {}) as Record<string, unknown>;
  });
}

/** The provider's own filter (keepContainer): enabled, running, and healthy when it has a health check. */
export function keepContainer(c: SimContainerSpec, exposedByDefault = true): boolean {
  const enable = c.labels?.['traefik.enable'];
  if (enable === undefined ? !exposedByDefault : parseGoBool(enable) !== true) return false;
  if (c.state !== 'running') return false;
  return !c.health || c.health === 'healthy';
}

/** getServiceName: "<compose service>_<project>" under Compose, the container name otherwise, normalized. */
export function dockerServiceName(c: SimContainerSpec): string {
  const svc = c.labels?.['com.docker.compose.service'];
  const project = c.labels?.['com.docker.compose.project'];
  return normalizeName(svc && project ? `${svc}_${project}` : c.name);
}

/** The Docker provider's dynamic configuration for these containers. */
export function dockerProviderConfig(containers: SimContainerSpec[], opts: { defaultRule?: (name: string) => string; exposedByDefault?: boolean } = {}): DynamicConfig {
  const http = { routers: {} as Record<string, Record<string, unknown>>, services: {} as Record<string, Record<string, unknown>>, middlewares: {} as Record<string, Record<string, unknown>> };
  for (const c of containers) {
    if (!keepContainer(c, opts.exposedByDefault)) continue;
    const conf: Record<string, Record<string, Record<string, unknown>>> = { routers: {}, services: {}, middlewares: {} };
    for (const [key, value] of Object.entries(c.labels ?? {})) {
      const m = /^traefik\.http\.(routers|services|middlewares)\.([^.]+)\.(.+)$/i.exec(key);
      if (!m) continue;
      const section = conf[m[1]!.toLowerCase()]!;
      const obj = (section[m[2]!] ??= {});
      setPath(obj, m[3]!.split('.'), value);
    }
    const name = dockerServiceName(c);
    // BuildServiceConfiguration: no service label -> one service named after the container.
    if (!Object.keys(conf.services!).length) conf.services![name] = { loadBalancer: {} };
    for (const svc of Object.values(conf.services!)) {
      const lb = svc.loadBalancer as Record<string, unknown> | undefined;
      if (!lb || (svc.weighted ?? svc.mirroring ?? svc.failover)) continue;
      const server = (lb.server ?? {}) as { port?: string; scheme?: string; url?: string };
      delete lb.server;
      // getPort: the server.port label, else the lowest exposed port.
      const port = server.port ?? String([...(c.ports ?? [])].sort((a, b) => a - b)[0] ?? '');
      lb.servers = server.url ? [{ url: server.url }] : c.ip && port ? [{ url: `${server.scheme ?? 'http'}://${c.ip}:${port}` }] : [];
    }
    // BuildRouterConfiguration: no router label -> one router with the default rule; a router without service takes the only one.
    if (!Object.keys(conf.routers!).length && opts.defaultRule) conf.routers![name] = { rule: opts.defaultRule(name) };
    const services = Object.keys(conf.services!);
    for (const r of Object.values(conf.routers!)) {
      if (!r.rule && opts.defaultRule) r.rule = opts.defaultRule(name);
      if (!r.service && services.length === 1) r.service = services[0];
      if (r.tls === true) r.tls = {};
    }
    // Two containers defining the same router with different settings: Traefik drops it; the stand-in keeps the first.
    for (const s of ['routers', 'services', 'middlewares'] as const) for (const [k, v] of Object.entries(conf[s]!)) http[s][k] ??= v;
  }
  return { http } as DynamicConfig;
}
