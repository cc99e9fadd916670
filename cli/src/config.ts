import { resolve } from 'node:path';
import { z } from 'zod';
import { parseEnv } from '@homelab-mcp/component-kit/config.js';

/** Ports `npm start` uses; each can be moved with its environment variable (0 picks a free port). */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback).meta({ examples: [String(fallback)], description: '0 picks a free port' });

const schema = z
  .object({
    HOMELAB_MCP_HOME: z.string().min(1).default('.homelab-mcp').meta({ examples: ['/var/lib/homelab-mcp'] }),
    HOMELAB_MCP_GATEWAY_PORT: port(8765),
    HOMELAB_MCP_SHARD_TRAEFIK_PORT: port(50061),
    HOMELAB_MCP_SHARD_DOZZLE_PORT: port(50062),
    HOMELAB_MCP_SHARD_AUTHENTIK_PORT: port(50063),
    HOMELAB_MCP_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn').meta({ examples: ['info'] }),
  })
  .transform((e) => ({
    /** Where certificates, the gateway token, the audit log and the stand-ins' state live. */
    home: resolve(e.HOMELAB_MCP_HOME),
    ports: {
      gateway: e.HOMELAB_MCP_GATEWAY_PORT,
      traefik: e.HOMELAB_MCP_SHARD_TRAEFIK_PORT,
      dozzle: e.HOMELAB_MCP_SHARD_DOZZLE_PORT,
      authentik: e.HOMELAB_MCP_SHARD_AUTHENTIK_PORT,
    },
    logLevel: e.HOMELAB_MCP_LOG_LEVEL as string,
  }));

export type CliConfig = z.infer<typeof schema>;

/** Reads the launcher's environment once; an error names the variable and shows an example. */
export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): Readonly<CliConfig> {
  return parseEnv(schema, env);
}

const healthcheckSchema = z
  .object({
    SHARD_TLS_CA: z.string().min(1).optional().meta({ examples: ['/certs/ca.pem'] }),
    SHARD_TLS_CERT: z.string().min(1).optional().meta({ examples: ['/certs/shard-traefik/cert.pem'] }),
    SHARD_TLS_KEY: z.string().min(1).optional().meta({ examples: ['/certs/shard-traefik/key.pem'] }),
  })
  .transform((e) => ({
    ...(e.SHARD_TLS_CA ? { ca: e.SHARD_TLS_CA } : {}),
    ...(e.SHARD_TLS_CERT ? { cert: e.SHARD_TLS_CERT } : {}),
    ...(e.SHARD_TLS_KEY ? { key: e.SHARD_TLS_KEY } : {}),
  }));

/** The shard container's own certificate files, which its healthcheck presents (mTLS). */
export type HealthcheckTls = z.infer<typeof healthcheckSchema>;

/** Reads the healthcheck's environment: the SHARD_TLS_* files the shard in the same container uses. */
export function loadHealthcheckTls(env: NodeJS.ProcessEnv = process.env): Readonly<HealthcheckTls> {
  return parseEnv(healthcheckSchema, env);
}
