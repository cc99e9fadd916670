import { z } from 'zod';
import { parseEnv } from '@homelab-mcp/component-kit';
import { shardListenConfigSchema } from '@homelab-mcp/shard-kit';

const unsetIfEmpty = z.string().optional().transform((v) => v || undefined);

const schema = z.intersection(
  shardListenConfigSchema,
  z
    .object({
      DOCKER_HOST: unsetIfEmpty.meta({ examples: ['tcp://docker-socket-proxy:2375'] }),
      DOZZLE_API: unsetIfEmpty.meta({ examples: ['http://dozzle:8080/api'] }),
      DOZZLE_AUTH_PROVIDER: z.enum(['none', 'simple', 'forward-proxy']).default('none').meta({ examples: ['simple'] }),
      DOZZLE_USERNAME: z.string().optional().meta({ examples: ['homelab-mcp'] }),
      DOZZLE_PASSWORD: z.string().optional().meta({ examples: ['<the password of DOZZLE_USERNAME in Dozzle\'s users.yml>'] }),
      DOZZLE_REMOTE_USER: z.string().default('homelab-mcp').meta({ examples: ['homelab-mcp'] }),
    })
    .superRefine((c, ctx) => {
      const fail = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
      if (!c.DOZZLE_API && !c.DOCKER_HOST) fail('DOCKER_HOST', 'set DOCKER_HOST (a GET-only socket proxy) or DOZZLE_API');
      if (c.DOCKER_HOST && !/^tcp:\/\/[^/]+:\d+\/?$/.test(c.DOCKER_HOST)) {
        fail('DOCKER_HOST', 'must be tcp://host:port of a GET-only socket proxy; a unix socket (docker.sock) would give this shard full control of Docker');
      }
      if (c.DOZZLE_API && !/^https?:\/\//.test(c.DOZZLE_API)) fail('DOZZLE_API', 'must be an http(s) URL');
      if (c.DOZZLE_AUTH_PROVIDER === 'simple' && !(c.DOZZLE_USERNAME && c.DOZZLE_PASSWORD)) fail('DOZZLE_USERNAME', 'simple auth needs DOZZLE_USERNAME and DOZZLE_PASSWORD');
    }),
);

export type WatchmanConfig = z.infer<typeof schema>;

/** The Watchman's environment: Dozzle's API or a Docker socket proxy over TCP, never a unix socket. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<WatchmanConfig> {
  return parseEnv(schema, env);
}
