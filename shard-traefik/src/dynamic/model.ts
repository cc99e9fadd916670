import { isIP } from 'node:net';
import { ShardError } from '@homelab-mcp/shard-kit';
import type { AddDynamicConfigRequest, MiddlewareSpec } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';

export const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const REF = /^[A-Za-z0-9_.-]+(@[A-Za-z0-9_-]+)?$/;

type Violation = { field: string; description: string };

/** The dynamic configuration this shard writes for one route: plain data, dumped by js-yaml. */
export interface RouteFile {
  http: {
    routers: Record<string, Record<string, unknown>>;
    services: Record<string, Record<string, unknown>>;
    middlewares?: Record<string, Record<string, unknown>>;
  };
}

function middlewareOf(spec: MiddlewareSpec, path: string, v: Violation[]): [string, Record<string, unknown>] | undefined {
  if (spec.redirectToHttps) return ['redirect-to-https', { redirectScheme: { scheme: 'https', permanent: spec.redirectToHttps.permanent } }];
  if (spec.headers) {
    const h = spec.headers;
    const headers: Record<string, unknown> = {};
    if (Object.keys(h.customRequestHeaders).length) headers.customRequestHeaders = h.customRequestHeaders;
    if (Object.keys(h.customResponseHeaders).length) headers.customResponseHeaders = h.customResponseHeaders;
    if (h.stsSeconds) headers.stsSeconds = h.stsSeconds;
    if (h.frameDeny) headers.frameDeny = true;
    if (h.contentTypeNosniff) headers.contentTypeNosniff = true;
    for (const [k, val] of Object.entries({ ...h.customRequestHeaders, ...h.customResponseHeaders })) {
      if (!/^[A-Za-z0-9-]+$/.test(k) || /[\r\n]/.test(val)) v.push({ field: `${path}.headers`, description: `header "${k}" is not a valid header name/value` });
    }
    return ['headers', { headers }];
  }
  if (spec.forwardAuth) {
    const f = spec.forwardAuth;
    if (!/^https?:\/\//.test(f.address)) v.push({ field: `${path}.forward_auth.address`, description: 'must be an http(s) URL' });
    return ['forward-auth', { forwardAuth: { address: f.address, trustForwardHeader: f.trustForwardHeader, ...(f.authResponseHeaders.length ? { authResponseHeaders: f.authResponseHeaders } : {}) } }];
  }
  if (spec.ipAllowList) {
    for (const [i, r] of spec.ipAllowList.sourceRanges.entries()) {
      const [ip, bits] = r.split('/');
      if (!ip || !isIP(ip) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) v.push({ field: `${path}.ip_allow_list.source_ranges[${i}]`, description: `"${r}" is not an IP address or CIDR range` });
    }
    return ['ip-allow-list', { ipAllowList: { sourceRange: spec.ipAllowList.sourceRanges } }];
  }
  if (spec.rateLimit) return ['rate-limit', { rateLimit: { average: spec.rateLimit.average, ...(spec.rateLimit.burst ? { burst: spec.rateLimit.burst } : {}) } }];
  v.push({ field: path, description: 'set one middleware kind' });
  return undefined;
}

function containsTemplate(value: unknown): boolean {
  return JSON.stringify(value).includes('{{');
}

/**
 * Turns the typed request into the route's dynamic configuration, refusing
 * anything outside the typed model: template actions, @internal services,
 * names that could collide or escape the directory.
 */
export function buildRouteFile(req: AddDynamicConfigRequest): RouteFile {
  const v: Violation[] = [];
  checkNameAndRule(req, v);
  checkServiceAndMiddlewares(req, v);
  const middlewares: Record<string, Record<string, unknown>> = {};
  req.newMiddlewares.forEach((spec, i) => {
    const made = middlewareOf(spec, `new_middlewares[${i}]`, v);
    if (made) middlewares[`${req.name}-${made[0]}`] = made[1];
  });
  const router = routerOf(req, Object.keys(middlewares));
  const file: RouteFile = { http: { routers: { [req.name]: router }, services: { [req.name]: serviceOf(req) }, ...(Object.keys(middlewares).length ? { middlewares } : {}) } };
  if (containsTemplate(file)) v.push({ field: 'rule', description: 'contains "{{": Traefik would run it as a Go template; template actions are refused' });
  if (v.length) {
    throw new ShardError('INVALID_ARGUMENT', v.map((x) => `${x.field}: ${x.description}`).join('; '), {
      fieldViolations: v,
      hint: 'Fix the fields named and call add_dynamic_config again.',
    });
  }
  return file;
}

function checkNameAndRule(req: AddDynamicConfigRequest, v: Violation[]): void {
  if (!NAME.test(req.name)) v.push({ field: 'name', description: 'must be lowercase letters, digits and dashes (e.g. "pinchflat")' });
  req.hosts.forEach((h, i) => {
    if (!HOST.test(h)) v.push({ field: `hosts[${i}]`, description: `"${h}" is not a host name` });
  });
  if (req.rule && req.hosts.length) v.push({ field: 'rule', description: 'give either hosts (with path_prefix) or a rule, not both' });
  if (!req.rule && !req.hosts.length) v.push({ field: 'hosts', description: 'give the host names to route (or a rule)' });
  if (req.rule.length > 1024) v.push({ field: 'rule', description: `is ${req.rule.length} characters long; at most 1024 are accepted` });
  else if (req.rule && (/[\r\n]/.test(req.rule) || !/\b(Host|HostRegexp|Path|PathPrefix|PathRegexp|Header|Method|Query|ClientIP)\(/.test(req.rule))) {
    v.push({ field: 'rule', description: 'must be a single-line Traefik rule such as Host(`a.home.lan`) && PathPrefix(`/api`)' });
  }
  if (req.pathPrefix && req.rule) v.push({ field: 'path_prefix', description: 'path_prefix goes with hosts, not with a rule' });
}

function isBackendUrl(u: string): boolean {
  try {
    const p = new URL(u);
    return (p.protocol === 'http:' || p.protocol === 'https:' || p.protocol === 'h2c:') && Boolean(p.hostname);
  } catch {
    return false;
  }
}

function checkServiceAndMiddlewares(req: AddDynamicConfigRequest, v: Violation[]): void {
  const urls = req.service?.urls ?? [];
  if (!urls.length) v.push({ field: 'service.urls', description: 'give at least one backend URL, e.g. http://10.0.0.5:8945' });
  urls.forEach((u, i) => {
    if (!isBackendUrl(u)) v.push({ field: `service.urls[${i}]`, description: `"${u}" is not an http(s) URL` });
  });
  req.middlewares.forEach((m, i) => {
    if (!REF.test(m)) v.push({ field: `middlewares[${i}]`, description: `"${m}" is not a middleware name` });
    if (m.endsWith('@internal')) v.push({ field: `middlewares[${i}]`, description: 'Traefik\'s @internal objects are off limits' });
  });
}

/** The rule the request asks for: its own, or its hosts (any of them) and path prefix. */
function ruleOf(req: AddDynamicConfigRequest): string {
  if (req.rule) return req.rule;
  const parts = [req.hosts.length ? req.hosts.map((h) => `Host(\`${h.toLowerCase()}\`)`).join(' || ') : '', req.pathPrefix ? `PathPrefix(\`${req.pathPrefix}\`)` : ''].filter(Boolean);
  return parts.map((p) => (parts.length > 1 && p.includes('||') ? `(${p})` : p)).join(' && ');
}

function routerOf(req: AddDynamicConfigRequest, ownMiddlewares: string[]): Record<string, unknown> {
  const tls = req.tls ? { ...(req.tls.certResolver ? { certResolver: req.tls.certResolver } : {}), ...(req.tls.options ? { options: req.tls.options } : {}) } : undefined;
  const router: Record<string, unknown> = {
    rule: ruleOf(req),
    entryPoints: req.entryPoints.length ? req.entryPoints : tls ? ['websecure'] : ['web'],
    service: req.name,
  };
  const allMiddlewares = [...req.middlewares, ...ownMiddlewares];
  if (allMiddlewares.length) router.middlewares = allMiddlewares;
  if (tls) router.tls = tls;
  if (req.priority !== undefined) router.priority = Number(req.priority);
  return router;
}

function serviceOf(req: AddDynamicConfigRequest): Record<string, unknown> {
  const hc = req.service?.healthCheck;
  return {
    loadBalancer: {
      servers: (req.service?.urls ?? []).map((url) => ({ url })),
      ...(req.service?.passHostHeader !== undefined ? { passHostHeader: req.service.passHostHeader } : {}),
      ...(hc ? { healthCheck: { path: hc.path, interval: `${hc.intervalSeconds || 30}s`, timeout: `${hc.timeoutSeconds || 5}s` } } : {}),
    },
  };
}
