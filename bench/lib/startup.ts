import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@homelab-mcp/cli/paths.js';
import { childPids } from './cpu.js';
import { formatTable } from './load.js';

/** A launcher on ports the system picks, logging errors only: what every start the bench makes uses, beside its home. */
export const BENCH_LAUNCHER_ENV = {
  HOMELAB_MCP_GATEWAY_PORT: '0',
  HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0',
  HOMELAB_MCP_SHARD_DOZZLE_PORT: '0',
  HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0',
  HOMELAB_MCP_LOG_LEVEL: 'error',
} as const;

export interface StartupRun {
  /** From spawning `npm start` to "homelab-mcp is running" on its output. */
  seconds: number;
  /** Processes other than the components left beside them once running (an esbuild service would be one). */
  strays: string[];
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

function descendants(pid: number): number[] {
  const kids = childPids(pid);
  return [...kids, ...kids.flatMap(descendants)];
}

/** One `npm start` in `home`, timed until it says it is running; then stopped (SIGTERM to its process group). */
async function startOnce(home: string, timeoutMs: number): Promise<StartupRun> {
  const t0 = performance.now();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HOMELAB_MCP_HOME: home,
      ...BENCH_LAUNCHER_ENV,
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    let output = '';
    const seconds = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not say it is running within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('homelab-mcp is running')) {
          clearTimeout(timer);
          resolve((performance.now() - t0) / 1000);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before it was running:\n${output}`));
      });
    });
    const strays = descendants(child.pid ?? 0).map(commandLine).filter((cmd) => cmd && !/\bdist\/[\w-]+\.mjs\b|homelab-mcp\.js start|npm/.test(cmd));
    return { seconds, strays };
  } finally {
    try {
      process.kill(-(child.pid ?? 0), 'SIGTERM');
    } catch {
      // already gone
    }
    await exited;
  }
}

/**
 * Start-up time of `npm start` on a warm machine: one start to create the
 * certificates and warm the caches, then `runs` timed ones in the same home.
 */
export async function benchStartup(runs: number): Promise<{ title: string; table: string; json: unknown }> {
  const home = await mkdtemp(join(tmpdir(), 'homelab-mcp-bench-start-'));
  try {
    const first = await startOnce(home, 120_000);
    const warm: StartupRun[] = [];
    for (let i = 0; i < runs; i++) warm.push(await startOnce(home, 120_000));
    const sorted = warm.map((r) => r.seconds).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    const strays = [...new Set(warm.flatMap((r) => r.strays))];
    return {
      title: '`npm start` to "homelab-mcp is running" (target: <= 3 s warm; nothing but the components left running)',
      table: formatTable(['start', 'seconds', 'other processes left running'], [
        ['first (certificates, caches)', first.seconds, first.strays.join('; ') || 'none'],
        ...warm.map((r, i) => [`warm ${i + 1}`, r.seconds, r.strays.join('; ') || 'none']),
      ]) + `\n\nwarm start, median of ${runs}: ${median.toFixed(2)} s`,
      json: { firstSeconds: first.seconds, warmSeconds: warm.map((r) => r.seconds), warmMedianSeconds: median, strays },
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
