import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startConformanceShard } from '@homelab-mcp/shard-kit/testing/conformance-shard.js';
import { ensureConformanceRunner, runConformance } from './support/conformance-runner.js';

// The suite runs against the gateway in its explicit loopback-only, no-auth test mode.

describe('MCP conformance suite', () => {
  let shard: Awaited<ReturnType<typeof startConformanceShard>>;
  let gateway: Gateway;
  let dir: string;

  beforeAll(async () => {
    ensureConformanceRunner();
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
    const { code, output } = await runConformance(['server', '--url', gateway.url], dir);
    console.log(output.split('\n').filter((l) => /✓|✗|PASS|FAIL|passed|failed|Unexpected|Stale|scenario/i.test(l)).join('\n'));
    expect(code).toBe(0);
    expect(output).toMatch(/Total: \d+ passed, 0 failed/);
    for (const required of ['server-initialize', 'ping', 'logging-set-level', 'tools-list', 'tools-call-error', 'tools-call-sampling', 'tools-call-elicitation', 'resources-subscribe', 'prompts-get-with-image', 'completion-complete', 'server-sse-multiple-streams', 'dns-rebinding-protection']) {
      expect(output).toContain(required);
    }
  }, 300_000);
});
