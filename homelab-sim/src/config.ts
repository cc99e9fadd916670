import { z } from 'zod';
import { parseEnv } from '@homelab-mcp/component-kit';

const STAND_INS = ['traefik', 'dozzle', 'authentik'] as const;
const port = z.coerce.number().int().min(0).max(65535).default(0);

const schema = z
  .object({
    HOMELAB_SIM_DIR: z.string().min(1).default('.homelab-mcp/sim').meta({ examples: ['/var/lib/homelab-sim'] }),
    HOMELAB_SIM_ONLY: z
      .string()
      .default(STAND_INS.join(','))
      .transform((v) => new Set(v.split(',').map((s) => s.trim()).filter(Boolean)))
      .refine((only) => [...only].every((n) => (STAND_INS as readonly string[]).includes(n)), `names a stand-in other than ${STAND_INS.join(', ')}`)
      .meta({ examples: ['traefik,dozzle,authentik'] }),
    HOMELAB_SIM_AUTHENTIK_VERSION: z.enum(['2026.8.3', '2026.2.6']).default('2026.8.3').meta({ examples: ['2026.2.6'] }),
    HOMELAB_SIM_LOG_LEVEL: z.string().default('info').meta({ examples: ['debug'] }),
    // In a container (the compose demo): listen for the shards on the network, on fixed ports.
    HOMELAB_SIM_HOST: z.string().min(1).default('127.0.0.1').meta({ examples: ['0.0.0.0'] }),
    HOMELAB_SIM_TRAEFIK_PORT: port.meta({ examples: ['8080'] }),
    HOMELAB_SIM_AUTHENTIK_PORT: port.meta({ examples: ['9000'] }),
    /** Traefik's file-provider directory (default: <HOMELAB_SIM_DIR>/traefik/dynamic). */
    HOMELAB_SIM_TRAEFIK_DYNAMIC_DIR: z.string().min(1).optional().meta({ examples: ['/dynamic'] }),
    /** Accept the API token in this file instead of making one (and writing it to <HOMELAB_SIM_DIR>/authentik/token). */
    HOMELAB_SIM_AUTHENTIK_TOKEN_FILE: z.string().min(1).optional().meta({ examples: ['/run/secrets/authentik_token'] }),
  })
  .transform(({ HOMELAB_SIM_ONLY: only, ...rest }) => ({ ...rest, only }));

export type SimConfig = z.infer<typeof schema>;

/** Which stand-ins to run and where they keep state (the Traefik dynamic directory, the Authentik token). */
export function parseSimConfig(env: Record<string, string | undefined>): Readonly<SimConfig> {
  return parseEnv(schema, env);
}
