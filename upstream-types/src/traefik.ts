// Traefik's API (v3) as pkg/config/dynamic, pkg/config/runtime and pkg/api
// define it: the Navigator reads it, the stand-in computes and writes it.

/** runtime.StatusEnabled / StatusDisabled / StatusWarning. */
export type Status = 'enabled' | 'disabled' | 'warning';

/** dynamic.Router (HTTP) and dynamic.TCPRouter / UDPRouter, which use a subset of its fields. */
export interface Router {
  entryPoints?: string[];
  middlewares?: string[];
  service?: string;
  rule?: string;
  /** A number, or a string of digits for values beyond 2^53 (the API's priorityStr keeps them exact). */
  priority?: number | string;
  /** Deprecated in v3 but honoured: "v2" evaluates the rule with the v2 matchers. */
  ruleSyntax?: string;
  tls?: { certResolver?: string; options?: string; domains?: { main?: string; sans?: string[] }[]; passthrough?: boolean };
}

/** dynamic.Service: one kind (loadBalancer, weighted, mirroring, failover) per service. */
export interface Service {
  loadBalancer?: { servers?: { url?: string; address?: string; weight?: number }[]; passHostHeader?: boolean; healthCheck?: Record<string, unknown> };
  weighted?: { services?: { name: string; weight?: number }[]; healthCheck?: Record<string, unknown> };
  mirroring?: { service?: string; mirrors?: { name: string; percent?: number }[] };
  failover?: { service?: string; fallback?: string; healthCheck?: Record<string, unknown> };
  [kind: string]: unknown;
}

/** runtime.RouterInfo: the router with what Traefik made of it. */
export interface RouterInfo extends Router {
  status: Status;
  /** Errors in Traefik's words ("error" in JSON). */
  error?: string[];
  /** Entry points the router is actually on (unknown ones dropped). */
  using?: string[];
  priorityStr?: string;
}

/** runtime.ServiceInfo with the server statuses the API adds. */
export interface ServiceInfo extends Service {
  status: Status;
  error?: string[];
  usedBy?: string[];
  serverStatus?: Record<string, string>;
}

/** runtime.MiddlewareInfo: the middleware's one kind as a key (e.g. stripPrefix), with its status. */
export interface MiddlewareInfo {
  status: Status;
  error?: string[];
  usedBy?: string[];
  [kind: string]: unknown;
}

/** What the list and object endpoints add: the full name (name@provider), the provider and, for services and middlewares, the type. */
export interface Named {
  name: string;
  provider: string;
}
export type RouterRepresentation = RouterInfo & Named;
export type ServiceRepresentation = ServiceInfo & Named & { type: string };
export type MiddlewareRepresentation = MiddlewareInfo & Named & { type: string };

/**
 * /api/rawdata: the whole runtime configuration in one answer, each kind keyed
 * by full name, objects without the fields the lists add; a kind Traefik has
 * nothing of is left out.
 */
export interface RawData {
  routers?: Record<string, RouterInfo>;
  services?: Record<string, ServiceInfo>;
  middlewares?: Record<string, MiddlewareInfo>;
  tcpRouters?: Record<string, RouterInfo>;
  tcpServices?: Record<string, ServiceInfo>;
  udpRouters?: Record<string, RouterInfo>;
  udpServices?: Record<string, ServiceInfo>;
}

/**
 * A label value as Go's strconv.ParseBool reads it, as Traefik decodes
 * traefik.enable and every other boolean label: "1", "t", "T", "TRUE", "true"
 * and "True" are true, their "0"/"f"/"false" counterparts false, and anything
 * else a parse error (undefined), on which Traefik skips the container.
 */
export function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/**
 * Whether a basicAuth user's secret is one Traefik can check a password
 * against (go-http-auth's CheckSecret): MD5-crypt ($apr1$, $1$), {SHA}, or
 * bcrypt ($2a$, $2b$, $2x$, $2y$). No password matches any other secret.
 */
export function isHtpasswdHash(secret: string): boolean {
  return /^\$(?:apr1|1)\$[^$]{1,8}\$[./0-9A-Za-z]{22}$/.test(secret) || /^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(secret) || /^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(secret);
}

/** The users of a basicAuth users list ("name:secret") whose secret no password can match. */
export function usersWithoutHash(users: readonly string[]): string[] {
  return users.filter((u) => !isHtpasswdHash(u.slice(u.indexOf(':') + 1))).map((u) => u.split(':')[0] ?? u);
}

/**
 * The keys a router's Docker label may carry after traefik.http.routers.<name>.
 * (dynamic.Router, lower-cased as paerser matches them; [n] for a list index).
 * Traefik fails to decode a container's labels on any other key ("field not
 * found, node: ...") and skips the container.
 */
export const ROUTER_LABEL_KEYS: readonly string[] = [
  'entrypoints', 'rule', 'rulesyntax', 'priority', 'middlewares', 'service',
  'tls', 'tls.certresolver', 'tls.options', 'tls.domains[n].main', 'tls.domains[n].sans',
  'observability.accesslogs', 'observability.metrics', 'observability.tracing', 'observability.tracelevel',
];

/** The keys after traefik.http.services.<name>. (dynamic.Service's load balancer; "server" is the labels' one server). */
export const SERVICE_LABEL_KEYS: readonly string[] = [
  'loadbalancer.server.port', 'loadbalancer.server.scheme', 'loadbalancer.server.url', 'loadbalancer.server.weight', 'loadbalancer.server.preservepath',
  'loadbalancer.serverstransport', 'loadbalancer.passhostheader', 'loadbalancer.strategy', 'loadbalancer.responseforwarding.flushinterval',
  'loadbalancer.healthcheck.path', 'loadbalancer.healthcheck.interval', 'loadbalancer.healthcheck.unhealthyinterval', 'loadbalancer.healthcheck.timeout',
  'loadbalancer.healthcheck.scheme', 'loadbalancer.healthcheck.mode', 'loadbalancer.healthcheck.hostname', 'loadbalancer.healthcheck.port',
  'loadbalancer.healthcheck.followredirects', 'loadbalancer.healthcheck.method', 'loadbalancer.healthcheck.status', 'loadbalancer.healthcheck.headers.*',
  'loadbalancer.sticky.cookie', 'loadbalancer.sticky.cookie.name', 'loadbalancer.sticky.cookie.secure', 'loadbalancer.sticky.cookie.httponly',
  'loadbalancer.sticky.cookie.samesite', 'loadbalancer.sticky.cookie.maxage', 'loadbalancer.sticky.cookie.path', 'loadbalancer.sticky.cookie.domain',
];

/**
 * A router or service label key Traefik cannot decode, as "kind.name.rest"
 * lower-cased, or undefined when it knows the key (or the key is of another
 * kind). The returned node is the part paerser names in its error.
 */
export function unknownLabelKey(label: string): { kind: 'routers' | 'services'; name: string; rest: string; node: string } | undefined {
  const m = /^traefik\.http\.(routers|services)\.([^.]+)\.(.+)$/i.exec(label);
  if (!m) return undefined;
  const kind = m[1]!.toLowerCase() as 'routers' | 'services';
  const rest = m[3]!.toLowerCase().replace(/\[\d+\]/g, '[n]');
  const known = kind === 'routers' ? ROUTER_LABEL_KEYS : SERVICE_LABEL_KEYS;
  if (known.some((k) => k === rest || (k.endsWith('.*') && rest.startsWith(k.slice(0, -1))))) return undefined;
  const parts = rest.split('.');
  const node = parts.find((_, i) => !known.some((k) => k.split('.').slice(0, i + 1).join('.') === parts.slice(0, i + 1).join('.'))) ?? parts.at(-1)!;
  return { kind, name: m[2]!, rest, node };
}
