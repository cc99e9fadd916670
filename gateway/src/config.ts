import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, exampleOf, parseEnv } from '@homelab-mcp/component-kit/config.js';
import { readShardFile, stripScheme, type ShardFile } from '@homelab-mcp/component-kit/shard-file.js';
import { isLoopbackHost, splitHostPort } from '@homelab-mcp/pki/address.js';
import { instanceIdentity, parseInstanceAddresses } from '@homelab-mcp/pki/identity.js';
import type { OAuthSettings } from './trust/oauth.js';

export { ConfigError };

/** Whether a shard with this target's identity may offer the service; the reason when not. */
export function serviceOwnership(target: ShardTarget, service: string): string | undefined {
  const matches = (pattern: string) => (pattern.endsWith('*') ? service.startsWith(pattern.slice(0, -1)) : service === pattern);
  if (target.services.allow) {
    return target.services.allow.some(matches) ? undefined : `${service} is not among the services ${target.identity} may offer (${target.services.allow.join(', ')})`;
  }
  const other = target.services.reserved.find(matches);
  return other ? `${service} belongs to another shard (${other}), not to ${target.identity}` : undefined;
}

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
const example = (value: string, note?: string) => ({ examples: [value], ...(note ? { description: note } : {}) });

/** The gateway's GATEWAY_* variables, each with an example that errors show. */
const variables = z.looseObject({
  GATEWAY_LISTEN: z.string().default('127.0.0.1:8765').meta(example('127.0.0.1:8765')),
  GATEWAY_PUBLIC_URL: z.url().optional().meta(example('https://mcp.home.lan')),
  GATEWAY_DATA_DIR: z.string().min(1).default('.homelab-mcp/gateway').meta(example('/data')),
  GATEWAY_CONFIG: z.string().min(1).optional().meta(example('/etc/homelab-mcp/gateway.yaml')),
  GATEWAY_TLS_CA: z.string().min(1).optional().meta(example('/certs/ca.pem')),
  GATEWAY_TLS_CERT: z.string().min(1).optional().meta(example('/certs/gateway/cert.pem')),
  GATEWAY_TLS_KEY: z.string().min(1).optional().meta(example('/certs/gateway/key.pem')),
  GATEWAY_PLAINTEXT_SHARDS: z.string().optional().meta(example('traefik,dozzle', 'or 1 for all; loopback addresses only')),
  GATEWAY_AUTH: z.enum(['token', 'oauth', 'none']).default('token').meta(example('token')),
  GATEWAY_TOKEN_FILE: z.string().min(1).optional().meta(example('/data/token')),
  GATEWAY_OAUTH_ISSUER: z.url().optional().meta(example('https://auth.home.lan/application/o/homelab-mcp/')),
  GATEWAY_OAUTH_AUDIENCE: csv.meta(example('<client ID of the homelab-mcp provider in Authentik>')),
  GATEWAY_OAUTH_JWKS_URL: z.url().optional().meta(example('https://auth.home.lan/application/o/homelab-mcp/jwks/')),
  GATEWAY_OAUTH_CLOCK_TOLERANCE_SECONDS: nonNegativeInt(30).meta(example('30')),
  GATEWAY_RATE_LIMIT_PER_MINUTE: nonNegativeInt(600).meta(example('600', '0 turns it off')),
  GATEWAY_RATE_BURST: positiveInt(60).meta(example('60')),
  GATEWAY_MAX_INFLIGHT_PER_SUBJECT: nonNegativeInt(32).meta(example('32', '0 turns it off')),
  GATEWAY_ALLOWED_ORIGINS: csv.meta(example('https://claude.ai,http://localhost:6274')),
  GATEWAY_ALLOWED_HOSTS: csv.meta(example('mcp.home.lan,mcp.home.lan:443')),
  GATEWAY_MAX_SESSIONS: positiveInt(100).meta(example('100')),
  GATEWAY_MAX_SESSIONS_PER_SUBJECT: nonNegativeInt(32).meta(example('32', '0: only GATEWAY_MAX_SESSIONS applies')),
  GATEWAY_SESSION_IDLE_SECONDS: positiveInt(1800).meta(example('1800')),
  GATEWAY_STATELESS: boolFlag.meta(example('1')),
  GATEWAY_JSON_RESPONSE: boolFlag.meta(example('1')),
  GATEWAY_BODY_LIMIT_BYTES: positiveInt(1024 * 1024).meta(example('1048576')),
  GATEWAY_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000).meta(example('10000')),
  GATEWAY_BODY_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000).meta(example('30000')),
  GATEWAY_CALL_TIMEOUT_MS: positiveInt(30_000).meta(example('30000')),
  GATEWAY_MAX_CALL_TIMEOUT_MS: positiveInt(300_000).meta(example('300000')),
  GATEWAY_STREAM_MAX_ITEMS: positiveInt(1000).meta(example('1000')),
  GATEWAY_PLAN_TTL_SECONDS: positiveInt(600).meta(example('600')),
  GATEWAY_CONSOLE_SESSION_MINUTES: positiveInt(480).meta(example('480')),
  GATEWAY_CONSOLE_OAUTH_CLIENT_ID: z.string().min(1).optional().meta(example('<client ID of the provider the console signs in with>', 'default: the first GATEWAY_OAUTH_AUDIENCE')),
  GATEWAY_APPROVAL: z.enum(['model', 'human']).optional().meta(example('human', 'default: human when GATEWAY_LISTEN is beyond loopback, model on loopback')),
  GATEWAY_RECONNECT_INITIAL_MS: positiveInt(250).meta(example('250')),
  GATEWAY_RECONNECT_MAX_MS: positiveInt(500).meta(example('500')),
  GATEWAY_SHARD_KEEPALIVE_MS: z.coerce.number().int().min(50).default(100).meta(example('100')),
  GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(500).meta(example('500')),
});

/** The per-shard variables, one set per shard name (SHARD_TRAEFIK_URL, ...). */
const shardVariables = z.object({
  SHARD_NAME_URL: z.string().meta(example('shard-traefik:50051')),
  SHARD_NAME_IDENTITY: z.string().optional().meta(example('shard-traefik')),
  SHARD_NAME_SERVICES: z.string().optional().meta(example('homelab.traefik.v1.*')),
  SHARD_NAME_INSTANCES: z.string().optional().meta(example('nas=nas.home.lan:50051,pi=10.0.0.7:50051', 'instance=host:port, comma-separated: one shard per node')),
});

const SHARD_URL = /^SHARD_([A-Z0-9_]+?)_(URL|INSTANCES)$/;

function fail(variable: string, problem: string): never {
  const perShard = /^SHARD_[A-Z0-9_]+?_(URL|IDENTITY|SERVICES|INSTANCES)$/.exec(variable);
  throw new ConfigError(variable, problem, exampleOf(variables, variable) ?? (perShard ? exampleOf(shardVariables, `SHARD_NAME_${perShard[1]}`) : undefined));
}

/** SHARD_<NAME>_INSTANCES: `nas=nas.home.lan:50051,pi=10.0.0.7:50051`. */
function parseInstances(variable: string, value: string): [string, string][] {
  try {
    return parseInstanceAddresses(value);
  } catch (err) {
    fail(variable, (err as Error).message);
  }
}

function shardFile(path: string): ShardFile {
  try {
    return readShardFile(path);
  } catch (err) {
    fail('GATEWAY_CONFIG', (err as Error).message);
  }
}

/** The gateway's configuration, built from its environment (and GATEWAY_CONFIG's shard list). */
const gatewayConfigSchema = variables.transform((e) => {
  const listen = splitHostPort(e.GATEWAY_LISTEN);
  if (!listen) fail('GATEWAY_LISTEN', `"${e.GATEWAY_LISTEN}" is not host:port`);

  // Keyed by kind/instance: `dozzle` is the default instance of the dozzle kind, `dozzle/nas` the one of node nas.
  const targets = new Map<string, { kind: string; instance: string; address: string; identity?: string; plaintext?: boolean; services?: string[]; source: string }>();
  const keyOf = (kind: string, instance: string) => (instance ? `${kind}/${instance}` : kind);
  if (e.GATEWAY_CONFIG) {
    for (const s of shardFile(e.GATEWAY_CONFIG).shards) {
      const instance = s.instance ?? '';
      if (targets.has(keyOf(s.name, instance))) fail('GATEWAY_CONFIG', `${e.GATEWAY_CONFIG} lists ${keyOf(s.name, instance)} twice; keep one entry per shard and node`);
      targets.set(keyOf(s.name, instance), { kind: s.name, instance, address: stripScheme(s.url), identity: s.identity, plaintext: s.plaintext, services: s.services, source: 'GATEWAY_CONFIG' });
    }
  }
  const env = e as Record<string, unknown>;
  const text = (key: string) => (typeof env[key] === 'string' ? (env[key] as string) : undefined);
  for (const key of Object.keys(env).sort((a, b) => a.localeCompare(b))) {
    const m = SHARD_URL.exec(key);
    const value = text(key);
    if (!m || value === undefined || value === '') continue;
    const kind = m[1]!.toLowerCase().replace(/_/g, '-');
    const identity = text(`SHARD_${m[1]}_IDENTITY`);
    const services = (text(`SHARD_${m[1]}_SERVICES`) ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    const instances: [string, string][] = m[2] === 'URL' ? [['', value]] : parseInstances(key, value);
    for (const [instance, url] of instances) {
      const known = targets.get(keyOf(kind, instance));
      targets.set(keyOf(kind, instance), { kind, instance, address: stripScheme(url), identity: identity || known?.identity, services: services.length ? services : known?.services, source: key });
    }
  }

  const plaintextAll = /^(1|true|yes|\*)$/i.test(e.GATEWAY_PLAINTEXT_SHARDS ?? '');
  const plaintextNames = new Set(plaintextAll ? [] : (e.GATEWAY_PLAINTEXT_SHARDS ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const kinds = [...new Set([...targets.values()].map((t) => t.kind))];
  for (const n of plaintextNames) {
    // A shard (dozzle/nas) or a kind, all of whose instances then speak plaintext.
    if (!targets.has(n) && !kinds.includes(n)) fail('GATEWAY_PLAINTEXT_SHARDS', `names shard "${n}", which is not configured`);
  }

  const shards = [];
  // The default instance first, then the others by name: the order decides which instance of a single-instance shard serves.
  for (const [name, t] of [...targets.entries()].sort(([, a], [, b]) => a.kind.localeCompare(b.kind) || a.instance.localeCompare(b.instance))) {
    const hp = splitHostPort(t.address);
    if (!hp) fail(t.source, `"${t.address}" is not host:port`);
    const plaintext = plaintextAll || plaintextNames.has(name) || plaintextNames.has(t.kind) || t.plaintext === true;
    if (plaintext && !isLoopbackHost(hp.host)) {
      fail(t.source === 'GATEWAY_CONFIG' ? 'GATEWAY_CONFIG' : 'GATEWAY_PLAINTEXT_SHARDS', `shard "${name}" at ${t.address} is not on loopback; plaintext is allowed only for 127.0.0.1/::1/localhost`);
    }
    const reserved = kinds.filter((k) => k !== t.kind).map((k) => `homelab.${k.replace(/-/g, '_')}.*`);
    shards.push({
      /** Short name, e.g. `traefik` (from SHARD_TRAEFIK_URL or the config file); `dozzle/nas` for the instance of node nas. */
      name,
      /** The shard's kind, e.g. `dozzle`: instances of one kind offer one set of tools. */
      kind: t.kind,
      /** The node this instance serves (SHARD_DOZZLE_INSTANCES), '' for the default instance (SHARD_DOZZLE_URL). */
      instance: t.instance,
      /** Its place among the instances of its kind (0: the default, or else the first by name). */
      rank: [...targets.values()].filter((o) => o.kind === t.kind && o.instance.localeCompare(t.instance) < 0).length,
      /** host:port of the shard's gRPC server. */
      address: t.address,
      /** Identity the shard's certificate must carry (URI SAN spiffe://homelab-mcp/<identity>), e.g. shard-dozzle/nas for an instance. */
      identity: instanceIdentity(t.identity ?? `shard-${t.kind}`, t.instance),
      /** Speak plaintext gRPC to this shard (loopback addresses only). */
      plaintext,
      /**
       * Which gRPC services this shard's identity owns. `allow` (from
       * SHARD_<NAME>_SERVICES or the config file) lists services or `package.*`
       * prefixes; without it, anything except the packages of the other configured
       * shards (`homelab.<other name>.`) is accepted.
       */
      services: { ...(t.services ? { allow: t.services as readonly string[] } : {}), reserved: reserved as readonly string[] },
    });
  }

  let tls: { caFile: string; certFile: string; keyFile: string } | undefined;
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
  return {
    listen,
    /** GATEWAY_CONFIG, resolved: its shard list is read again when it changes. */
    ...(e.GATEWAY_CONFIG ? { shardFile: resolve(e.GATEWAY_CONFIG) } : {}),
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
    /** Who applies a plan: the model that asked for it (with its id), or only a person (elicitation or the console). */
    approval: e.GATEWAY_APPROVAL ?? (isLoopbackHost(listen.host) ? ('model' as const) : ('human' as const)),
    /** How long a console sign-in lasts. */
    consoleSessionMs: e.GATEWAY_CONSOLE_SESSION_MINUTES * 60_000,
    /** The public client the console signs in as with GATEWAY_AUTH=oauth (authorization code with PKCE). */
    ...(oauth ? { consoleOAuthClientId: e.GATEWAY_CONSOLE_OAUTH_CLIENT_ID ?? oauth.audience[0]! } : {}),
    reconnect: { initialMs: e.GATEWAY_RECONNECT_INITIAL_MS, maxMs: e.GATEWAY_RECONNECT_MAX_MS },
    keepalive: { timeMs: e.GATEWAY_SHARD_KEEPALIVE_MS, timeoutMs: e.GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS },
  };
});


export type GatewayConfig = DeepReadonly<z.output<typeof gatewayConfigSchema>> & {
  /** With GATEWAY_CONFIG: the shards as the environment and the file say now (throws a ConfigError as parsing does). */
  readonly rereadShards?: () => GatewayConfig['shards'];
};
export type ShardTarget = GatewayConfig['shards'][number];

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/**
 * Parses the gateway's environment once. Every error names the variable and
 * shows an example value. The result is deeply frozen.
 */
export function parseGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  // An empty GATEWAY_* value means "not set" (compose passes `${VAR:-}` through as "").
  const given = Object.fromEntries(Object.entries(env).filter(([k, v]) => !(k.startsWith('GATEWAY_') && v === '')));
  const config = parseEnv(gatewayConfigSchema, given) as GatewayConfig;
  if (!config.shardFile) return config;
  return Object.freeze({ ...config, rereadShards: () => (parseEnv(gatewayConfigSchema, given) as GatewayConfig).shards });
}
