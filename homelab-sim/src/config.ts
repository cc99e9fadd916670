import { z } from 'zod';

const schema = z.object({
  HOMELAB_SIM_DIR: z.string().min(1).default('.homelab-mcp/sim'),
  HOMELAB_SIM_ONLY: z.string().default('traefik,dozzle,authentik'),
  HOMELAB_SIM_AUTHENTIK_VERSION: z.enum(['2026.8.3', '2026.2.6']).default('2026.8.3'),
  HOMELAB_SIM_LOG_LEVEL: z.string().default('info'),
  // In a container (the compose demo): listen for the shards on the network, on fixed ports.
  HOMELAB_SIM_HOST: z.string().min(1).default('127.0.0.1'),
  HOMELAB_SIM_TRAEFIK_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  HOMELAB_SIM_AUTHENTIK_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Traefik's file-provider directory (default: <HOMELAB_SIM_DIR>/traefik/dynamic). */
  HOMELAB_SIM_TRAEFIK_DYNAMIC_DIR: z.string().min(1).optional(),
  /** Accept the API token in this file instead of making one (and writing it to <HOMELAB_SIM_DIR>/authentik/token). */
  HOMELAB_SIM_AUTHENTIK_TOKEN_FILE: z.string().min(1).optional(),
});

export type SimConfig = z.infer<typeof schema> & { only: Set<string> };

/** Which stand-ins to run and where they keep state (the Traefik dynamic directory, the Authentik token). */
export function parseSimConfig(env: Record<string, string | undefined>): Readonly<SimConfig> {
  const c = schema.parse(env);
  const only = new Set(c.HOMELAB_SIM_ONLY.split(',').map((s) => s.trim()).filter(Boolean));
  for (const n of only) if (!['traefik', 'dozzle', 'authentik'].includes(n)) throw new Error(`HOMELAB_SIM_ONLY: unknown stand-in "${n}" (example: HOMELAB_SIM_ONLY=traefik,dozzle,authentik)`);
  return Object.freeze({ ...c, only });
}
