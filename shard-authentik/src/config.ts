import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, loadConfig, shardListenConfigSchema, type ShardListenEnv } from '@homelab-mcp/shard-kit';

const schema = z.intersection(
  shardListenConfigSchema,
  z.object({
    AUTHENTIK_URL: z.url({ message: 'must be Authentik\'s URL' }),
    AUTHENTIK_TOKEN_FILE: z.string().optional().transform((v) => v || undefined),
    AUTHENTIK_TOKEN: z.string().optional().transform((v) => v || undefined),
    AUTHENTIK_OUTPOST_URL: z.string().optional().transform((v) => v || undefined),
  }),
);

export interface GatekeeperConfig extends ShardListenEnv {
  /** Authentik's origin, e.g. http://authentik-server:9000 (no /api/v3). */
  authentikOrigin: string;
  /** The API token; never logged. */
  token: string;
  /** Where Traefik's forwardAuth reaches the outpost. */
  outpostUrl: string;
}

/** Drops trailing slashes; a loop, because /\/+$/ backtracks quadratically over a long run of slashes. */
function trimSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

/** The Gatekeeper's environment; the token comes from a file (preferred) or the variable. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<GatekeeperConfig> {
  const c = loadConfig(schema, env, { AUTHENTIK_URL: 'http://authentik-server:9000', AUTHENTIK_TOKEN_FILE: '/run/secrets/authentik_token' });
  let token = c.AUTHENTIK_TOKEN;
  if (c.AUTHENTIK_TOKEN_FILE) {
    try {
      token = readFileSync(c.AUTHENTIK_TOKEN_FILE, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('AUTHENTIK_TOKEN_FILE', `cannot read ${c.AUTHENTIK_TOKEN_FILE} (${(err as NodeJS.ErrnoException).code})`, '/run/secrets/authentik_token');
    }
  }
  if (!token) throw new ConfigError('AUTHENTIK_TOKEN_FILE', 'an Authentik API token is required (AUTHENTIK_TOKEN_FILE, or AUTHENTIK_TOKEN)', '/run/secrets/authentik_token');
  const origin = trimSlashes(c.AUTHENTIK_URL).replace(/\/api\/v3$/, '');
  return Object.freeze({ ...c, AUTHENTIK_TOKEN: undefined, authentikOrigin: origin, token, outpostUrl: trimSlashes(c.AUTHENTIK_OUTPOST_URL ?? origin) });
}
