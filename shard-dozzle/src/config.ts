import { z } from 'zod';
import { ConfigError, loadConfig, shardListenConfigSchema, type ShardListenEnv } from '@homelab-mcp/shard-kit';

const schema = z.intersection(
  shardListenConfigSchema,
  z.object({
    DOCKER_HOST: z.string().optional().transform((v) => v || undefined),
    DOZZLE_API: z.string().optional().transform((v) => v || undefined),
    DOZZLE_AUTH_PROVIDER: z.enum(['none', 'simple', 'forward-proxy']).default('none'),
    DOZZLE_USERNAME: z.string().optional(),
    DOZZLE_PASSWORD: z.string().optional(),
    DOZZLE_REMOTE_USER: z.string().default('homelab-mcp'),
  }),
);

export type WatchmanConfig = ShardListenEnv & {
  DOCKER_HOST?: string | undefined;
  DOZZLE_API?: string | undefined;
  DOZZLE_AUTH_PROVIDER: 'none' | 'simple' | 'forward-proxy';
  DOZZLE_USERNAME?: string | undefined;
  DOZZLE_PASSWORD?: string | undefined;
  DOZZLE_REMOTE_USER: string;
};

/** The Watchman's environment: Dozzle's API or a Docker socket proxy over TCP, never a unix socket. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<WatchmanConfig> {
  const c = loadConfig(schema, env, { DOCKER_HOST: 'tcp://docker-socket-proxy:2375', DOZZLE_API: 'http://dozzle:8080/api' }) as Readonly<WatchmanConfig>;
  if (!c.DOZZLE_API && !c.DOCKER_HOST) throw new ConfigError('DOCKER_HOST', 'set DOCKER_HOST (a GET-only socket proxy) or DOZZLE_API', 'tcp://docker-socket-proxy:2375');
  if (c.DOCKER_HOST && !/^tcp:\/\/[^/]+:\d+\/?$/.test(c.DOCKER_HOST)) {
    throw new ConfigError('DOCKER_HOST', 'must be tcp://host:port of a GET-only socket proxy; a unix socket (docker.sock) would give this shard full control of Docker', 'tcp://docker-socket-proxy:2375');
  }
  if (c.DOZZLE_API && !/^https?:\/\//.test(c.DOZZLE_API)) throw new ConfigError('DOZZLE_API', 'must be an http(s) URL', 'http://dozzle:8080/api');
  if (c.DOZZLE_AUTH_PROVIDER === 'simple' && !(c.DOZZLE_USERNAME && c.DOZZLE_PASSWORD)) throw new ConfigError('DOZZLE_USERNAME', 'simple auth needs DOZZLE_USERNAME and DOZZLE_PASSWORD', 'homelab-mcp');
  return c;
}
