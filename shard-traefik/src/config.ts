import { z } from 'zod';
import { parseEnv } from '@homelab-mcp/component-kit';
import { shardListenConfigSchema } from '@homelab-mcp/shard-kit';

const schema = z.intersection(
  shardListenConfigSchema,
  z.object({
    TRAEFIK_API: z.url({ message: 'must be the URL of Traefik\'s API' }).meta({ examples: ['http://traefik:8080/api'] }),
    TRAEFIK_DYNAMIC_DIR: z.string().min(1).meta({ examples: ['/dynamic'] }),
    TRAEFIK_WEBSECURE_ADDRESS: z
      .string()
      .regex(/^[^:]+:\d+$/, 'must be host:port')
      .optional()
      .or(z.literal('').transform(() => undefined))
      .meta({ examples: ['traefik:443'] }),
    TRAEFIK_CONFIRM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000).meta({ examples: ['15000'] }),
  }),
);

export type NavigatorConfig = z.infer<typeof schema>;

/** The Navigator's environment, parsed once. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<NavigatorConfig> {
  return parseEnv(schema, env);
}
