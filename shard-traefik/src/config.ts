import { z } from 'zod';
import { loadConfig, shardListenConfigSchema, type ShardListenEnv } from '@homelab-mcp/shard-kit';

const schema = z.intersection(
  shardListenConfigSchema,
  z.object({
    TRAEFIK_API: z.url({ message: 'must be the URL of Traefik\'s API' }),
    TRAEFIK_DYNAMIC_DIR: z.string().min(1),
    TRAEFIK_WEBSECURE_ADDRESS: z.string().regex(/^[^:]+:\d+$/, 'must be host:port').optional().or(z.literal('').transform(() => undefined)),
    TRAEFIK_CONFIRM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  }),
);

export type NavigatorConfig = ShardListenEnv & {
  TRAEFIK_API: string;
  TRAEFIK_DYNAMIC_DIR: string;
  TRAEFIK_WEBSECURE_ADDRESS?: string | undefined;
  TRAEFIK_CONFIRM_TIMEOUT_MS: number;
};

/** The Navigator's environment, parsed once. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<NavigatorConfig> {
  return loadConfig(schema, env, {
    TRAEFIK_API: 'http://traefik:8080/api',
    TRAEFIK_DYNAMIC_DIR: '/dynamic',
    TRAEFIK_WEBSECURE_ADDRESS: 'traefik:443',
    TRAEFIK_CONFIRM_TIMEOUT_MS: '15000',
  }) as Readonly<NavigatorConfig>;
}
