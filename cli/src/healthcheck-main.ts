// The images' healthcheck program (dist/healthcheck.mjs): `homelab-mcp healthcheck`
// alone, so a shard's image carries the gRPC health client and not the whole CLI.
import { Command } from 'commander';
import { loadHealthcheckTls } from './config.js';
import { defineHealthcheck } from './healthcheck-command.js';

await defineHealthcheck(new Command('healthcheck'), () => loadHealthcheckTls())
  .showHelpAfterError('(run with --help for usage)')
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`healthcheck: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
