import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** The nearest directory at or above `from` holding the project's package.json (the one with the workspaces). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = resolve(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'homelab-mcp') return dir;
    if (dirname(dir) === dir) return resolve(from, '..');
  }
}

/** The repository root, from the sources (cli/src) as from a bundle (dist/). */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Entry point of a workspace component, e.g. entryOf('gateway') -> <root>/gateway/src/main.ts. */
export function entryOf(component: string): string {
  // The containers' healthcheck: the CLI's `healthcheck` command as a program of its own, so images need not carry the whole CLI.
  if (component === 'healthcheck') return resolve(repoRoot, 'cli', 'src', 'healthcheck-main.ts');
  return resolve(repoRoot, component, 'src', 'main.ts');
}
