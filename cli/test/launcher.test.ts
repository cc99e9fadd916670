import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../src/paths.js';

let home = '';
afterAll(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

/** Processes whose parent is `pid` (from /proc/<n>/stat, whichever thread forked them). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('homelab-mcp start as a process', () => {
  it('leaves no component behind when the launcher is killed outright (kill -9)', async () => {
    home = await mkdtemp(join(tmpdir(), 'homelab-mcp-launcher-'));
    const env = { ...process.env, HOMELAB_MCP_HOME: home, HOMELAB_MCP_GATEWAY_PORT: '0', HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0', HOMELAB_MCP_SHARD_DOZZLE_PORT: '0', HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0', HOMELAB_MCP_LOG_LEVEL: 'error' };
    const launcher = spawn(process.execPath, [join(repoRoot, 'cli', 'bin', 'homelab-mcp.js'), 'start'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not running after 90 s:\n${out}`)), 90_000);
      launcher.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('homelab-mcp is running')) {
          clearTimeout(timer);
          resolve();
        }
      });
      launcher.once('exit', (code) => reject(new Error(`launcher exited with ${code}:\n${out}`)));
    });
    const children = childrenOf(launcher.pid ?? 0).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${join(repoRoot, 'dist')}/`));
    launcher.kill('SIGKILL');
    // Three stand-ins, three shards, the gateway.
    expect(children).toHaveLength(7);
    const deadline = Date.now() + 20_000;
    while (children.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(children.filter(alive)).toEqual([]);
  }, 120_000);
});
