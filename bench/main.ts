// `npm run bench` (and `homelab-mcp bench`, which runs this file from a checkout): the benchmark suite.
import { Command, InvalidArgumentError } from 'commander';
import { runBench, SECTIONS, type SectionName } from './run.js';

function sections(value: string, previous: Set<SectionName> | undefined): Set<SectionName> {
  const out = new Set(previous);
  for (const name of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown section "${name}"; the sections are ${SECTIONS.join(', ')}`);
    out.add(name as SectionName);
  }
  return out;
}

await new Command('bench')
  .description('Run the benchmark suite and print the results (see bench/README.md).')
  .option('--short', 'a short run (what CI does)')
  .option('--only <sections>', `run only these sections (comma-separated, repeatable): ${SECTIONS.join(', ')}`, sections)
  .action(async (opts: { short?: boolean; only?: Set<SectionName> }) => {
    process.exitCode = await runBench({ short: Boolean(opts.short), ...(opts.only ? { only: opts.only } : {}) });
  })
  .parseAsync(process.argv);
