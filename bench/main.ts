// `npm run bench` (and `homelab-mcp bench`, which runs this file from a checkout): the benchmark suite.
import { Command } from 'commander';
import { runBench } from './run.js';

await new Command('bench')
  .description('Run the benchmark suite and print the results (see bench/README.md).')
  .option('--short', 'a short run (what CI does)')
  .action(async (opts: { short?: boolean }) => {
    process.exitCode = await runBench({ short: Boolean(opts.short) });
  })
  .parseAsync(process.argv);
