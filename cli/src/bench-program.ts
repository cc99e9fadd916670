import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/**
 * `homelab-mcp bench`: runs the bench workspace's own program (bench/main.ts,
 * what `npm run bench` runs) and returns its exit code. The bench needs a
 * checkout (its peers, the stand-ins, Docker), so a built CLI says so.
 */
export async function runBenchProgram(args: string[]): Promise<number> {
  const entry = join(repoRoot, 'bench', 'main.ts');
  if (!existsSync(entry)) throw new Error('the benchmark runs from a checkout of homelab-mcp: npm run bench');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: repoRoot, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
