import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { loadCliConfig } from '@homelab-mcp/cli/config.js';
import { startAll, type Started } from '@homelab-mcp/cli/start.js';
import { conformanceResults, ensureConformanceRunner, runConformance } from '@homelab-mcp/gateway/testing/conformance-runner.js';

// Scenarios whose fixtures (test_* tools, test:// resources, test_* prompts) only the
// conformance shard declares; every other scenario is about the gateway's protocol
// handling and must pass with the homelab's own shards behind it.
const NEEDS_FIXTURES = /^(tools-call-|resources-read-|resources-templates-read|resources-(un)?subscribe|prompts-get-|completion-complete|elicitation-|server-sse-multiple-streams)/;

describe('the official conformance suite against npm start (the real shards and stand-ins)', () => {
  let home: string;
  let started: Started;

  beforeAll(async () => {
    ensureConformanceRunner();
    home = await mkdtemp(join(tmpdir(), 'conformance-real-'));
    const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home, HOMELAB_MCP_GATEWAY_PORT: '0', HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0', HOMELAB_MCP_SHARD_DOZZLE_PORT: '0', HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0', HOMELAB_MCP_LOG_LEVEL: 'error' });
    const out = { write: () => true } as unknown as NodeJS.WritableStream;
    // The suite's own mode: loopback only, no auth, and no per-caller rate (it sends ~1000 requests back to back).
    started = await startAll(cfg, pino({ level: 'silent' }), { only: new Set(['sim', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'gateway']), env: { GATEWAY_AUTH: 'none', GATEWAY_RATE_LIMIT_PER_MINUTE: '0' }, out });
  }, 300_000);

  afterAll(async () => {
    await started?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('passes every scenario that does not need the suite\'s fixture names', async () => {
    const { output } = await runConformance(['server', '--url', started.state.mcpUrl ?? ''], home);
    const results = conformanceResults(output);
    const mustPass = [...results].filter(([name]) => !NEEDS_FIXTURES.test(name));
    expect(mustPass.length).toBeGreaterThanOrEqual(7);
    expect(mustPass.filter(([, passed]) => !passed).map(([name]) => name)).toEqual([]);
    for (const required of ['server-initialize', 'ping', 'logging-set-level', 'tools-list', 'resources-list', 'prompts-list', 'dns-rebinding-protection']) expect(results.get(required)).toBe(true);
  }, 300_000);
});
