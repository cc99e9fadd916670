import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { z } from 'zod';
import type { LimitSettings } from './trust/limits.js';
import type { OAuthSettings } from './trust/oauth.js';

/** One shard the gateway connects to. */
export interface ShardTarget {
  /** Short name, e.g. `traefik` (from SHARD_TRAEFIK_URL or the config file). */
  readonly name: string;
  /** host:port of the shard's gRPC server. */
  readonly address: string;
  /** Identity the shard's certificate must carry (URI SAN spiffe://homelab-mcp/<identity>). */
  readonly identity: string;
  /** Speak plaintext gRPC to this shard (loopback addresses only). */
  readonly plaintext: boolean;
  /**
   * Which gRPC services this shard's identity owns. `allow` (from
   * SHARD_<NAME>_SERVICES or the config file) lists services or `package.*`
   * prefixes; without it, anything except the packages of the other configured
   * shards (`homelab.<other name>.`) is accepted.
   */
  readonly services: { readonly allow?: readonly string[]; readonly reserved: readonly string[] };
}

/** Whether a shard with this target's identity may offer the service; the reason when not. */
export function serviceOwnership(target: ShardTarget, service: string): string | undefined {
  const matches = (pattern: string) => (pattern.endsWith('*') ? service.startsWith(pattern.slice(0, -1)) : service === pattern);
  if (target.services.allow) {
    return target.services.allow.some(matches) ? undefined : `${service} is not among the services ${target.identity} may offer (${target.services.allow.join(', ')})`;
  }
  const other = target.services.reserved.find(matches);
  return other ? `${service} belongs to another shard (${other}), not to ${target.identity}` : undefined;
}

export interface GatewayConfig {
  readonly listen: { readonly host: string; readonly port: number };
  /** Where clients reach the gateway when that differs from the listen address (reverse proxy, container port). */
  readonly publicUrl?: string;
  readonly dataDir: string;
  readonly shards: readonly ShardTarget[];
  /** mTLS files for the shard connections; absent only when every shard is plaintext. */
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /**
   * How MCP clients authenticate: a static bearer token (default), OAuth 2.1
   * access tokens from an authorization server such as Authentik (JWTs checked
   * against its JWKS), or nothing (loopback only).
   */
  readonly auth: {
    readonly mode: 'token' | 'oauth' | 'none';
    readonly tokenFile: string;
    readonly oauth?: OAuthSettings;
  };
  /** Per-subject request limits (429 with Retry-After beyond them). */
  readonly limits: LimitSettings;
  /** Extra Origin values accepted besides the gateway's own URLs. */
  readonly allowedOrigins: readonly string[];
  /** Extra Host header values accepted besides the gateway's own addresses. */
  readonly allowedHosts: readonly string[];
  readonly sessions: {
    readonly stateless: boolean;
    /** Sessions of all callers together. */
    readonly max: number;
    /** Sessions one subject may hold; 0 means only the global cap applies. */
    readonly maxPerSubject: number;
    readonly idleMs: number;
    /** Answer POSTs with a JSON body instead of an SSE stream. */
    readonly jsonResponse: boolean;
  };
  readonly bodyLimitBytes: number;
  /**
   * How long a client may take to send a request: its headers, and the whole
   * request with its body. Answers (SSE streams, long tool calls) are not bound by them.
   */
  readonly requestDeadlines: { readonly headersMs: number; readonly bodyMs: number };
  readonly calls: {
    readonly defaultTimeoutMs: number;
    readonly maxTimeoutMs: number;
    /** Most messages of a server-streaming call kept for the result. */
    readonly maxStreamItems: number;
  };
  readonly planTtlMs: number;
  readonly reconnect: { readonly initialMs: number; readonly maxMs: number };
  /** HTTP/2 pings on every shard link: how often, and how long an answer may take before the link counts as lost. */
  readonly keepalive: { readonly timeMs: number; readonly timeoutMs: number };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const EXAMPLES: Record<string, string> = {
  GATEWAY_LISTEN: '127.0.0.1:8765',
  GATEWAY_PUBLIC_URL: 'https://mcp.home.lan',
  GATEWAY_DATA_DIR: '/data',
  GATEWAY_CONFIG: '/etc/homelab-mcp/gateway.yaml',
  GATEWAY_TLS_CA: '/certs/ca.pem',
  GATEWAY_TLS_CERT: '/certs/gateway/cert.pem',
  GATEWAY_TLS_KEY: '/certs/gateway/key.pem',
  GATEWAY_PLAINTEXT_SHARDS: 'traefik,dozzle (or 1 for all; loopback addresses only)',
  GATEWAY_AUTH: 'token',
  GATEWAY_TOKEN_FILE: '/data/token',
  GATEWAY_OAUTH_ISSUER: 'https://auth.home.lan/application/o/homelab-mcp/',
  GATEWAY_OAUTH_AUDIENCE: '<client ID of the homelab-mcp provider in Authentik>',
  GATEWAY_OAUTH_JWKS_URL: 'https://auth.home.lan/application/o/homelab-mcp/jwks/',
  GATEWAY_OAUTH_CLOCK_TOLERANCE_SECONDS: '30',
  GATEWAY_RATE_LIMIT_PER_MINUTE: '600 (0 turns it off)',
  GATEWAY_RATE_BURST: '60',
  GATEWAY_MAX_INFLIGHT_PER_SUBJECT: '32 (0 turns it off)',
  GATEWAY_ALLOWED_ORIGINS: 'https://claude.ai,http://localhost:6274',
  GATEWAY_ALLOWED_HOSTS: 'mcp.home.lan,mcp.home.lan:443',
  GATEWAY_MAX_SESSIONS: '100',
  GATEWAY_MAX_SESSIONS_PER_SUBJECT: '32 (0: only GATEWAY_MAX_SESSIONS applies)',
  GATEWAY_SESSION_IDLE_SECONDS: '1800',
  GATEWAY_STATELESS: '1',
  GATEWAY_JSON_RESPONSE: '1',
  GATEWAY_BODY_LIMIT_BYTES: '1048576',
  GATEWAY_HEADERS_TIMEOUT_MS: '10000',
  GATEWAY_BODY_TIMEOUT_MS: '30000',
  GATEWAY_CALL_TIMEOUT_MS: '30000',
  GATEWAY_MAX_CALL_TIMEOUT_MS: '300000',
  GATEWAY_STREAM_MAX_ITEMS: '1000',
  GATEWAY_PLAN_TTL_SECONDS: '600',
  GATEWAY_RECONNECT_INITIAL_MS: '250',
  GATEWAY_RECONNECT_MAX_MS: '500',
  GATEWAY_SHARD_KEEPALIVE_MS: '100',
  GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '500',
};

const boolFlag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const csv = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const envSchema = z.object({
  GATEWAY_LISTEN: z.string().default('127.0.0.1:8765'),
  GATEWAY_PUBLIC_URL: z.url().optional(),
  GATEWAY_DATA_DIR: z.string().min(1).default('.homelab-mcp/gateway'),
  GATEWAY_CONFIG: z.string().min(1).optional(),
  GATEWAY_TLS_CA: z.string().min(1).optional(),
  GATEWAY_TLS_CERT: z.string().min(1).optional(),
  GATEWAY_TLS_KEY: z.string().min(1).optional(),
  GATEWAY_PLAINTEXT_SHARDS: z.string().optional(),
  GATEWAY_AUTH: z.enum(['token', 'oauth', 'none']).default('token'),
  GATEWAY_TOKEN_FILE: z.string().min(1).optional(),
  GATEWAY_OAUTH_ISSUER: z.url().optional(),
  GATEWAY_OAUTH_AUDIENCE: csv,
  GATEWAY_OAUTH_JWKS_URL: z.url().optional(),
  GATEWAY_OAUTH_CLOCK_TOLERANCE_SECONDS: nonNegativeInt(30),
  GATEWAY_RATE_LIMIT_PER_MINUTE: nonNegativeInt(600),
  GATEWAY_RATE_BURST: positiveInt(60),
  GATEWAY_MAX_INFLIGHT_PER_SUBJECT: nonNegativeInt(32),
  GATEWAY_ALLOWED_ORIGINS: csv,
  GATEWAY_ALLOWED_HOSTS: csv,
  GATEWAY_MAX_SESSIONS: positiveInt(100),
  GATEWAY_MAX_SESSIONS_PER_SUBJECT: nonNegativeInt(32),
  GATEWAY_SESSION_IDLE_SECONDS: positiveInt(1800),
  GATEWAY_STATELESS: boolFlag,
  GATEWAY_JSON_RESPONSE: boolFlag,
  GATEWAY_BODY_LIMIT_BYTES: positiveInt(1024 * 1024),
  GATEWAY_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  GATEWAY_BODY_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  GATEWAY_CALL_TIMEOUT_MS: positiveInt(30_000),
  GATEWAY_MAX_CALL_TIMEOUT_MS: positiveInt(300_000),
  GATEWAY_STREAM_MAX_ITEMS: positiveInt(1000),
  GATEWAY_PLAN_TTL_SECONDS: positiveInt(600),
  GATEWAY_RECONNECT_INITIAL_MS: positiveInt(250),
  GATEWAY_RECONNECT_MAX_MS: positiveInt(500),
  GATEWAY_SHARD_KEEPALIVE_MS: z.coerce.number().int().min(50).default(100),
  GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(500),
});

const fileSchema = z.object({
  shards: z
    .array(
      z.object({
        name: z.string().regex(/^[a-z][a-z0-9-]*$/),
        url: z.string().min(1),
        identity: z.string().min(1).optional(),
        plaintext: z.boolean().optional(),
        services: z.array(z.string().min(1)).optional(),
      }),
    )
    .default([]),
});

const SHARD_URL = /^SHARD_([A-Z0-9_]+)_URL$/;

/** True for addresses that never leave this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

/** Splits "host:port" (IPv6 in brackets) without resolving anything. */
export function splitHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function fail(variable: string, problem: string): never {
  const example = EXAMPLES[variable] ?? (SHARD_URL.test(variable) ? 'shard-traefik:50051' : undefined);
  throw new ConfigError(`${variable}: ${problem}${example ? ` (example: ${variable}=${example})` : ''}`);
}

function stripScheme(url: string): string {
  // Accept grpc://, grpcs:// or http(s):// prefixes people paste; the channel itself decides TLS.
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

function readShardFile(path: string): z.infer<typeof fileSchema> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail('GATEWAY_CONFIG', `cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(path) ? JSON.parse(text) : loadYaml(text);
  } catch (err) {
    fail('GATEWAY_CONFIG', `${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail('GATEWAY_CONFIG', `${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}; expected { shards: [{ name: traefik, url: shard-traefik:50051 }] }`);
  }
  return parsed.data;
}

/**
 * Parses the gateway's environment once. Every error names the variable and
 * shows an example value. The result is deeply frozen.
 */
export function parseGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  // An empty GATEWAY_* value means "not set" (compose passes `${VAR:-}` through as "").
  const given = Object.fromEntries(Object.entries(env).filter(([k, v]) => !(k.startsWith('GATEWAY_') && v === '')));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(String(issue.path[0] ?? 'GATEWAY_*'), issue.message);
  }
  const e = parsed.data;

  const listen = splitHostPort(e.GATEWAY_LISTEN);
  if (!listen) fail('GATEWAY_LISTEN', `"${e.GATEWAY_LISTEN}" is not host:port`);

  const targets = new Map<string, { address: string; identity?: string; plaintext?: boolean; services?: string[]; source: string }>();
  if (e.GATEWAY_CONFIG) {
    for (const s of readShardFile(e.GATEWAY_CONFIG).shards) {
      targets.set(s.name, { address: stripScheme(s.url), identity: s.identity, plaintext: s.plaintext, services: s.services, source: 'GATEWAY_CONFIG' });
    }
  }
  for (const [key, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    const m = SHARD_URL.exec(key);
    if (!m || value === undefined || value === '') continue;
    const name = m[1]!.toLowerCase().replace(/_/g, '-');
    const identity = env[`SHARD_${m[1]}_IDENTITY`];
    const services = (env[`SHARD_${m[1]}_SERVICES`] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    targets.set(name, { address: stripScheme(value), identity: identity || targets.get(name)?.identity, services: services.length ? services : targets.get(name)?.services, source: key });
  }

  const plaintextAll = /^(1|true|yes|\*)$/i.test(e.GATEWAY_PLAINTEXT_SHARDS ?? '');
  const plaintextNames = new Set(plaintextAll ? [] : (e.GATEWAY_PLAINTEXT_SHARDS ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const n of plaintextNames) {
    if (!targets.has(n)) fail('GATEWAY_PLAINTEXT_SHARDS', `names shard "${n}", which is not configured`);
  }

  const shards: ShardTarget[] = [];
  for (const [name, t] of [...targets.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const hp = splitHostPort(t.address);
    if (!hp) fail(t.source, `"${t.address}" is not host:port`);
    const plaintext = plaintextAll || plaintextNames.has(name) || t.plaintext === true;
    if (plaintext && !isLoopbackHost(hp.host)) {
      fail(t.source === 'GATEWAY_CONFIG' ? 'GATEWAY_CONFIG' : 'GATEWAY_PLAINTEXT_SHARDS', `shard "${name}" at ${t.address} is not on loopback; plaintext is allowed only for 127.0.0.1/::1/localhost`);
    }
    const reserved = [...targets.keys()].filter((n) => n !== name).map((n) => `homelab.${n.replace(/-/g, '_')}.*`);
    shards.push({ name, address: t.address, identity: t.identity ?? `shard-${name}`, plaintext, services: { ...(t.services ? { allow: t.services } : {}), reserved } });
  }

  let tls: GatewayConfig['tls'];
  if (e.GATEWAY_TLS_CA || e.GATEWAY_TLS_CERT || e.GATEWAY_TLS_KEY) {
    if (!e.GATEWAY_TLS_CA) fail('GATEWAY_TLS_CA', 'required with GATEWAY_TLS_CERT/GATEWAY_TLS_KEY');
    if (!e.GATEWAY_TLS_CERT) fail('GATEWAY_TLS_CERT', 'required with GATEWAY_TLS_CA/GATEWAY_TLS_KEY');
    if (!e.GATEWAY_TLS_KEY) fail('GATEWAY_TLS_KEY', 'required with GATEWAY_TLS_CA/GATEWAY_TLS_CERT');
    tls = { caFile: resolve(e.GATEWAY_TLS_CA), certFile: resolve(e.GATEWAY_TLS_CERT), keyFile: resolve(e.GATEWAY_TLS_KEY) };
  } else if (shards.some((s) => !s.plaintext)) {
    fail('GATEWAY_TLS_CA', 'shards use mTLS: set GATEWAY_TLS_CA, GATEWAY_TLS_CERT and GATEWAY_TLS_KEY (or GATEWAY_PLAINTEXT_SHARDS for loopback shards)');
  }

  if (e.GATEWAY_AUTH === 'none' && !isLoopbackHost(listen.host)) {
    fail('GATEWAY_AUTH', `"none" is allowed only when GATEWAY_LISTEN is a loopback address, not ${listen.host}`);
  }
  let oauth: OAuthSettings | undefined;
  if (e.GATEWAY_AUTH === 'oauth') {
    if (!e.GATEWAY_OAUTH_ISSUER) fail('GATEWAY_OAUTH_ISSUER', 'required with GATEWAY_AUTH=oauth: the issuer of the access tokens');
    if (e.GATEWAY_OAUTH_AUDIENCE.length === 0) fail('GATEWAY_OAUTH_AUDIENCE', 'required with GATEWAY_AUTH=oauth: the audience the tokens are issued for (tokens for other audiences are refused)');
    oauth = {
      issuer: e.GATEWAY_OAUTH_ISSUER,
      audience: e.GATEWAY_OAUTH_AUDIENCE,
      ...(e.GATEWAY_OAUTH_JWKS_URL ? { jwksUrl: e.GATEWAY_OAUTH_JWKS_URL } : {}),
      clockToleranceSeconds: e.GATEWAY_OAUTH_CLOCK_TOLERANCE_SECONDS,
    };
  }
  if (e.GATEWAY_MAX_CALL_TIMEOUT_MS < e.GATEWAY_CALL_TIMEOUT_MS) {
    fail('GATEWAY_MAX_CALL_TIMEOUT_MS', `must be at least GATEWAY_CALL_TIMEOUT_MS (${e.GATEWAY_CALL_TIMEOUT_MS})`);
  }
  if (e.GATEWAY_BODY_TIMEOUT_MS < e.GATEWAY_HEADERS_TIMEOUT_MS) {
    fail('GATEWAY_BODY_TIMEOUT_MS', `must be at least GATEWAY_HEADERS_TIMEOUT_MS (${e.GATEWAY_HEADERS_TIMEOUT_MS}): it bounds the whole request, headers included`);
  }
  for (const origin of e.GATEWAY_ALLOWED_ORIGINS) {
    if (!/^https?:\/\/[^/]+$/.test(origin)) fail('GATEWAY_ALLOWED_ORIGINS', `"${origin}" is not an origin (scheme://host[:port], no path)`);
  }

  const dataDir = resolve(e.GATEWAY_DATA_DIR);
  const config: GatewayConfig = {
    listen,
    ...(e.GATEWAY_PUBLIC_URL ? { publicUrl: e.GATEWAY_PUBLIC_URL.replace(/\/+$/, '') } : {}),
    dataDir,
    shards,
    ...(tls ? { tls } : {}),
    auth: { mode: e.GATEWAY_AUTH, tokenFile: resolve(e.GATEWAY_TOKEN_FILE ?? `${dataDir}/token`), ...(oauth ? { oauth } : {}) },
    limits: { perMinute: e.GATEWAY_RATE_LIMIT_PER_MINUTE, burst: e.GATEWAY_RATE_BURST, maxInflight: e.GATEWAY_MAX_INFLIGHT_PER_SUBJECT },
    allowedOrigins: e.GATEWAY_ALLOWED_ORIGINS,
    allowedHosts: e.GATEWAY_ALLOWED_HOSTS,
    sessions: {
      stateless: e.GATEWAY_STATELESS,
      max: e.GATEWAY_MAX_SESSIONS,
      maxPerSubject: e.GATEWAY_MAX_SESSIONS_PER_SUBJECT,
      idleMs: e.GATEWAY_SESSION_IDLE_SECONDS * 1000,
      jsonResponse: e.GATEWAY_JSON_RESPONSE,
    },
    bodyLimitBytes: e.GATEWAY_BODY_LIMIT_BYTES,
    requestDeadlines: { headersMs: e.GATEWAY_HEADERS_TIMEOUT_MS, bodyMs: e.GATEWAY_BODY_TIMEOUT_MS },
    calls: {
      defaultTimeoutMs: e.GATEWAY_CALL_TIMEOUT_MS,
      maxTimeoutMs: e.GATEWAY_MAX_CALL_TIMEOUT_MS,
      maxStreamItems: e.GATEWAY_STREAM_MAX_ITEMS,
    },
    planTtlMs: e.GATEWAY_PLAN_TTL_SECONDS * 1000,
    reconnect: { initialMs: e.GATEWAY_RECONNECT_INITIAL_MS, maxMs: e.GATEWAY_RECONNECT_MAX_MS },
    keepalive: { timeMs: e.GATEWAY_SHARD_KEEPALIVE_MS, timeoutMs: e.GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
