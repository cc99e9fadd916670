import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** The repository root (where package.json with the workspaces lives). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Entry point of a workspace component, e.g. entryOf('gateway') -> <root>/gateway/src/main.ts. */
export function entryOf(component: string): string {
  return resolve(repoRoot, component, 'src', 'main.ts');
}
