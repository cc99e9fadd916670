/**
 * Traefik's Docker provider over a list of containers: dynamic configuration
 * from `traefik.*` labels (pkg/provider/docker/config.go), so a container that
 * stops takes its routers and services with it.
 */
import { normalizeName } from './entry-points.js';
import { parseGoBool, unknownLabelKey } from '@homelab-mcp/upstream-types/traefik.js';
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

type Section = Record<string, Record<string, unknown>>;
interface ContainerConf { routers: Section; services: Section; middlewares: Section }

/** What Traefik's provider logs when it drops part of the configuration (its error lines, for a scenario's Traefik log). */
export interface ProviderError {
  container?: string;
  router?: string;
  service?: string;
  middleware?: string;
  message: string;
}

/** One container's configuration from its labels (label.DecodeConfiguration), before defaults. */
function decodeLabels(c: SimContainerSpec): ContainerConf {
  const conf: ContainerConf = { routers: {}, services: {}, middlewares: {} };
  for (const [key, value] of Object.entries(c.labels ?? {})) {
    const m = /^traefik\.http\.(routers|services|middlewares)\.([^.]+)\.(.+)$/i.exec(key);
    if (!m) continue;
    const section = conf[m[1]!.toLowerCase() as keyof ContainerConf];
    const obj = (section[m[2]!] ??= {});
    setPath(obj, m[3]!.split('.'), value);
  }
  return conf;
}

/**
 * buildServiceConfiguration: one service named after the container when the
 * labels define none, and each load balancer's server from the container's
 * address and port (the server.port label, else the lowest exposed port).
 * Without a port the whole container is dropped: "port is missing".
 */
function buildServices(c: SimContainerSpec, conf: ContainerConf, name: string): string | undefined {
  if (!Object.keys(conf.services).length) conf.services[name] = { loadBalancer: {} };
  for (const [svcName, svc] of Object.entries(conf.services)) {
    const lb = svc.loadBalancer as Record<string, unknown> | undefined;
    if (!lb || (svc.weighted ?? svc.mirroring ?? svc.failover)) continue;
    const server = (lb.server ?? {}) as { port?: string; scheme?: string; url?: string };
    delete lb.server;
    if (server.url) {
      lb.servers = [{ url: server.url }];
      continue;
    }
    const port = server.port ?? [...(c.ports ?? [])].sort((a, b) => a - b)[0]?.toString();
    if (!port) return `service "${svcName}" error: port is missing`;
    lb.servers = c.ip ? [{ url: `${server.scheme ?? 'http'}://${c.ip}:${port}` }] : [];
  }
  return undefined;
}

/**
 * BuildRouterConfiguration: with no router label, one router named after the
 * container when it has a single service; a rule defaults to the provider's
 * default rule; a router without a service takes the only one, and is dropped
 * when there are several.
 */
function buildRouters(conf: ContainerConf, name: string, defaultRule: ((name: string) => string) | undefined, report: (e: ProviderError) => void): void {
  const services = Object.keys(conf.services);
  if (!Object.keys(conf.routers).length && services.length === 1 && defaultRule) conf.routers[name] = {};
  for (const [routerName, r] of Object.entries(conf.routers)) {
    if (!r.rule && defaultRule) r.rule = defaultRule(name);
    if (!r.rule) {
      report({ router: routerName, message: 'Undefined rule' });
      delete conf.routers[routerName];
      continue;
    }
    if (!r.service && services.length > 1) {
      report({ router: routerName, message: 'Could not define the service name for the router: too many services' });
      delete conf.routers[routerName];
      continue;
    }
    if (!r.service) r.service = services[0];
    if (r.tls === true) r.tls = {};
  }
}

/** Go's reflect.DeepEqual over decoded JSON: key order does not matter. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A load balancer without its servers: two of them merge when these are equal (ServersLoadBalancer.Mergeable). */
function lbSettings(svc: Record<string, unknown>): string | undefined {
  const lb = svc.loadBalancer as Record<string, unknown> | undefined;
  if (!lb) return undefined;
  const { servers: _servers, ...rest } = lb;
  return canonical(rest);
}

const MERGE_WORDS = { routers: 'Router', services: 'Service', middlewares: 'Middleware' } as const;

/**
 * provider.Merge: what several containers define under one name must be
 * equal, except services whose load balancers merge (their servers joined);
 * anything else defined differently is dropped, for every container.
 */
function merge(confs: [string, ContainerConf][], errors: ProviderError[]): ContainerConf {
  const out: ContainerConf = { routers: {}, services: {}, middlewares: {} };
  const owners = new Map<string, string[]>();
  const conflicts = new Set<string>();
  for (const [container, conf] of [...confs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const kind of ['services', 'routers', 'middlewares'] as const) {
      for (const [name, v] of Object.entries(conf[kind])) {
        const key = `${kind}/${name}`;
        owners.set(key, [...(owners.get(key) ?? []), container]);
        const prev = out[kind][name];
        if (!prev) out[kind][name] = v;
        else if (kind === 'services' && lbSettings(prev) !== undefined && lbSettings(prev) === lbSettings(v)) joinServers(prev, v);
        else if (canonical(prev) !== canonical(v)) conflicts.add(key);
      }
    }
  }
  for (const key of conflicts) {
    const [kind, name] = key.split('/') as [keyof ContainerConf, string];
    delete out[kind][name];
    errors.push({ [kind.slice(0, -1)]: name, message: `${MERGE_WORDS[kind]} defined multiple times with different configurations in [${owners.get(key)!.join(' ')}]` });
  }
  return out;
}

function joinServers(into: Record<string, unknown>, from: Record<string, unknown>): void {
  const a = into.loadBalancer as { servers?: { url?: string }[] };
  const b = from.loadBalancer as { servers?: { url?: string }[] };
  const seen = new Set((a.servers ?? []).map((s) => s.url));
  a.servers = [...(a.servers ?? []), ...(b.servers ?? []).filter((s) => !seen.has(s.url))];
}

/**
 * The Docker provider's dynamic configuration for these containers, the way
 * DynConfBuilder.build makes it: per container, then merged. What it drops is
 * reported in `errors`, in Traefik's words.
 */
export function dockerProviderConfig(containers: SimContainerSpec[], opts: { defaultRule?: (name: string) => string; exposedByDefault?: boolean; errors?: ProviderError[] } = {}): DynamicConfig {
  const errors = opts.errors ?? [];
  const confs: [string, ContainerConf][] = [];
  for (const c of containers) {
    if (!keepContainer(c, opts.exposedByDefault)) continue;
    const unknown = Object.keys(c.labels ?? {}).map(unknownLabelKey).find((u) => u !== undefined);
    if (unknown) {
      errors.push({ container: c.name, message: `field not found, node: ${unknown.node}` });
      continue;
    }
    const conf = decodeLabels(c);
    const name = dockerServiceName(c);
    const portError = buildServices(c, conf, name);
    if (portError) {
      errors.push({ container: c.name, message: portError });
      continue;
    }
    buildRouters(conf, name, opts.defaultRule, (e) => errors.push({ container: c.name, ...e }));
    confs.push([c.name, conf]);
  }
  return { http: merge(confs, errors) } as DynamicConfig;
}
