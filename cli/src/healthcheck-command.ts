import type { Command } from 'commander';
import type { HealthcheckTls } from './config.js';

export interface HealthcheckOptions {
  grpc?: string;
  identity?: string;
  http?: string;
}

/**
 * The `healthcheck` command, defined once for `homelab-mcp healthcheck` and
 * for the images' own small program (dist/healthcheck.mjs), so both take the
 * same arguments. `tls` gives the container's certificate files (SHARD_TLS_*).
 */
export function defineHealthcheck(command: Command, tls: () => HealthcheckTls): Command {
  return command
    .description('Container healthcheck: probe a shard with the gRPC health protocol (mTLS with SHARD_TLS_*) or the gateway over HTTP. Exits 0 when serving.')
    .option('--grpc <address>', 'shard address, e.g. 127.0.0.1:50051')
    .option('--identity <identity>', 'the shard identity expected in its certificate, e.g. shard-traefik (needed for mTLS)')
    .option('--http <url>', 'gateway health URL, e.g. http://127.0.0.1:8765/healthz')
    .action(async (opts: HealthcheckOptions) => {
      const { runHealthcheck } = await import('./healthcheck.js');
      process.exitCode = await runHealthcheck(opts, tls());
    });
}
