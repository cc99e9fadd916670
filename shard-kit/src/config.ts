import { z } from 'zod';
import type { ListenConfig } from './serve.js';

/** A configuration error that names the variable and shows a valid example. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string, example?: string) {
    super(`${variable}: ${problem}${example ? ` (example: ${variable}=${example})` : ''}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment with a zod schema once and freezes the result. The
 * first problem becomes a ConfigError naming the variable with an example.
 */
export function loadConfig<T>(schema: z.ZodType<T>, env: Record<string, string | undefined>, examples: Record<string, string> = {}): Readonly<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return Object.freeze(parsed.data);
  const issue = parsed.error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  const problem = issue?.code === 'invalid_type' && env[variable] === undefined ? 'is required' : (issue?.message ?? 'is invalid');
  throw new ConfigError(variable, problem, examples[variable] ?? listenExamples[variable]);
}

const listenExamples: Record<string, string> = {
  SHARD_LISTEN: '0.0.0.0:50051',
  SHARD_TLS_CA: '/certs/ca.pem',
  SHARD_TLS_CERT: '/certs/shard-example/cert.pem',
  SHARD_TLS_KEY: '/certs/shard-example/key.pem',
  SHARD_ALLOWED_PEERS: 'gateway',
  SHARD_PLAINTEXT: '1',
};

const hostPort = z.string().regex(/^(\[[^\]]+\]|[^:]+|[0-9a-fA-F:]+):\d{1,5}$/, 'must be host:port');

/** The listening and mTLS settings every shard reads from its environment. */
export const shardListenConfigSchema = z
  .object({
    SHARD_LISTEN: hostPort.default('127.0.0.1:50051'),
    SHARD_TLS_CA: z.string().min(1).optional(),
    SHARD_TLS_CERT: z.string().min(1).optional(),
    SHARD_TLS_KEY: z.string().min(1).optional(),
    SHARD_ALLOWED_PEERS: z.string().min(1).default('gateway'),
    SHARD_PLAINTEXT: z.enum(['0', '1', 'true', 'false']).default('0'),
  })
  .superRefine((e, ctx) => {
    const plaintext = e.SHARD_PLAINTEXT === '1' || e.SHARD_PLAINTEXT === 'true';
    if (plaintext) return;
    for (const k of ['SHARD_TLS_CA', 'SHARD_TLS_CERT', 'SHARD_TLS_KEY'] as const) {
      if (!e[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'is required for mTLS (or set SHARD_PLAINTEXT=1 on a loopback SHARD_LISTEN)' });
    }
  });

export type ShardListenEnv = z.infer<typeof shardListenConfigSchema>;

/** Turns the parsed SHARD_* variables into serve()'s listen settings. */
export function toListenConfig(e: ShardListenEnv): ListenConfig {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(e.SHARD_LISTEN);
  const host = m?.[1] ?? '127.0.0.1';
  const port = Number(m?.[2] ?? 50051);
  const plaintext = e.SHARD_PLAINTEXT === '1' || e.SHARD_PLAINTEXT === 'true';
  if (plaintext) return { host, port, tls: 'plaintext' };
  return {
    host,
    port,
    tls: {
      caFile: e.SHARD_TLS_CA ?? '',
      certFile: e.SHARD_TLS_CERT ?? '',
      keyFile: e.SHARD_TLS_KEY ?? '',
      allowedPeers: e.SHARD_ALLOWED_PEERS.split(',').map((s) => s.trim()).filter(Boolean),
    },
  };
}

/**
 * Tells a launcher that forked this process (homelab-mcp start) where the shard
 * listens; if the launcher goes away, even killed outright, the shard shuts
 * down the usual way instead of lingering on its port.
 */
export function reportReady(endpoints: Record<string, string>): void {
  if (!process.send) return;
  process.send({ type: 'ready', endpoints });
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
