import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseEnv } from '@homelab-mcp/component-kit';
import { shardListenConfigSchema } from '@homelab-mcp/shard-kit';

const unsetIfEmpty = z.string().optional().transform((v) => v || undefined);

/** Drops trailing slashes; a loop, because /\/+$/ backtracks quadratically over a long run of slashes. */
function trimSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

const schema = z.intersection(
  shardListenConfigSchema,
  z
    .object({
      AUTHENTIK_URL: z.url({ message: 'must be Authentik\'s URL' }).meta({ examples: ['http://authentik-server:9000'] }),
      AUTHENTIK_TOKEN_FILE: unsetIfEmpty.meta({ examples: ['/run/secrets/authentik_token'] }),
      AUTHENTIK_TOKEN: unsetIfEmpty.meta({ examples: ['<an API token; prefer AUTHENTIK_TOKEN_FILE>'] }),
      AUTHENTIK_OUTPOST_URL: unsetIfEmpty.meta({ examples: ['http://authentik-outpost:9000'] }),
    })
    .transform((c, ctx) => {
      // The token comes from a file (preferred) or the variable; it is never logged.
      let token = c.AUTHENTIK_TOKEN;
      if (c.AUTHENTIK_TOKEN_FILE) {
        try {
          token = readFileSync(c.AUTHENTIK_TOKEN_FILE, 'utf8').trim();
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: ['AUTHENTIK_TOKEN_FILE'], message: `cannot read ${c.AUTHENTIK_TOKEN_FILE} (${(err as NodeJS.ErrnoException).code})` });
          return z.NEVER;
        }
      }
      if (!token) {
        ctx.addIssue({ code: 'custom', path: ['AUTHENTIK_TOKEN_FILE'], message: 'an Authentik API token is required (AUTHENTIK_TOKEN_FILE, or AUTHENTIK_TOKEN)' });
        return z.NEVER;
      }
      const authentikOrigin = trimSlashes(c.AUTHENTIK_URL).replace(/\/api\/v3$/, '');
      return {
        ...c,
        AUTHENTIK_TOKEN: undefined,
        /** Authentik's origin, e.g. http://authentik-server:9000 (no /api/v3). */
        authentikOrigin,
        /** The API token; never logged. */
        token,
        /** Where Traefik's forwardAuth reaches the outpost. */
        outpostUrl: trimSlashes(c.AUTHENTIK_OUTPOST_URL ?? authentikOrigin),
      };
    }),
);

export type GatekeeperConfig = z.infer<typeof schema>;

/** The Gatekeeper's environment, parsed once. */
export function parseConfig(env: Record<string, string | undefined>): Readonly<GatekeeperConfig> {
  return parseEnv(schema, env);
}
