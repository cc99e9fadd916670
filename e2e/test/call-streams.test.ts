import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, type CallToolResult, type LoggingMessageNotification, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { parseConfig as parseWatchmanConfig, startWatchman } from '@homelab-mcp/shard-dozzle';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki } from '@homelab-mcp/gateway/testing/test-pki.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('progress, log lines and rich content from the Watchman, through the gateway', () => {
  let dir: string;
  let dozzle: DozzleSim;
  let watchman: RunningShard;
  let gateway: Gateway;
  let client: Client;
  const logs: LoggingMessageNotification['params'][] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'call-streams-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    dozzle = await startDozzleSim();
    const tls = pki.shardTls('shard-dozzle');
    watchman = await startWatchman(parseWatchmanConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, DOZZLE_API: dozzle.url }), logger);
    // The shard runs in this process: a stall of the test's own event loop (charting a window under load) must not read as a dead link.
    gateway = await startGateway(parseGatewayConfig({ ...pki.gatewayEnv(join(dir, 'gateway')), SHARD_DOZZLE_URL: `127.0.0.1:${watchman.port}`, GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000' }), logger);
    client = new Client({ name: 'call-streams', version: '1.0.0' });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
    for (let i = 0; i < 400 && !(await client.listTools()).tools.some((t) => t.name === 'search_logs'); i++) await new Promise((r) => setTimeout(r, 50));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await watchman?.close(0);
    await dozzle?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = async (name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void) =>
    (await client.callTool({ name, arguments: args }, undefined, { ...(onprogress ? { onprogress } : {}), timeout: 60_000 })) as CallToolResult;

  it('reports search_logs progress one container at a time, and keeps the updates out of the result', async () => {
    const progress: Progress[] = [];
    const result = await call('search_logs', { query: 'database is locked' }, (p) => void progress.push(p));
    const structured = result.structuredContent as { containers_total: number; containers_searched: number };
    const total = structured.containers_total;
    expect(total).toBeGreaterThan(2);
    expect(structured.containers_searched).toBe(total);
    expect(progress.map((p) => p.progress)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(progress.every((p) => p.total === total && /^searched \S+: \d+ match(es)? in \d+ lines$/.test(p.message ?? ''))).toBe(true);
    expect(structured).not.toHaveProperty('update');
    const tool = (await client.listTools()).tools.find((t) => t.name === 'search_logs')!;
    expect(Object.keys(tool.outputSchema?.properties ?? {})).not.toContain('update');
  });

  it("sends the shard's log lines at or above the level the session set", async () => {
    await client.setLoggingLevel('warning');
    logs.length = 0;
    const stopped = await call('search_logs', { query: 'router', max_matches: 1 });
    expect(stopped.structuredContent).toMatchObject({ limit_reached: true });
    const fromCall = () => logs.filter((l) => l.logger === 'dozzle');
    expect(fromCall()).toEqual([expect.objectContaining({ level: 'warning', data: expect.stringMatching(/^search stopped after 1 of \d+ containers/) })]);
    await client.setLoggingLevel('info');
    logs.length = 0;
    await call('search_logs', { query: 'database is locked' });
    expect(fromCall().length).toBeGreaterThan(0);
    expect(fromCall().every((l) => l.level === 'info' && /^\S+: \d+ match(es)?$/.test(String(l.data)))).toBe(true);
  });

  it('charts get_container_stats over a window as a PNG beside the numbers', async () => {
    const running = dozzle.containers.find((c) => c.container.state === 'running')!.container.name.replace(/^\//, '');
    const result = await call('get_container_stats', { container: running, window: '2s' });
    expect(result.isError ?? false).toBe(false);
    const structured = result.structuredContent as { series: { cpu_percent: number; memory_percent: number }[]; stats: unknown[] };
    expect(structured.series.length).toBeGreaterThanOrEqual(2);
    expect(structured.series[0]).toEqual(expect.objectContaining({ cpu_percent: expect.any(Number), memory_percent: expect.any(Number) }));
    expect(structured).not.toHaveProperty('charts');
    const image = result.content.find((c) => c.type === 'image');
    expect(image).toMatchObject({ type: 'image', mimeType: 'image/png' });
    const png = Buffer.from((image as { data: string }).data, 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([480, 200]);
    const tool = (await client.listTools()).tools.find((t) => t.name === 'get_container_stats')!;
    expect(Object.keys(tool.outputSchema?.properties ?? {})).toEqual(expect.arrayContaining(['stats', 'series']));
    expect(Object.keys(tool.outputSchema?.properties ?? {})).not.toContain('charts');
  });

  it('says what a window needs when it cannot be charted', async () => {
    const all = await call('get_container_stats', { window: '2s' });
    expect(all.isError).toBe(true);
    expect(JSON.stringify(all.content)).toMatch(/window samples one container: name it in \\"container\\"/);
    const long = await call('get_container_stats', { container: dozzle.containers[0]!.container.name.replace(/^\//, ''), window: '60s' });
    expect(long.isError).toBe(true);
    expect(JSON.stringify(long.content)).toMatch(/deadline ends before a 60s window/);
    const plain = await call('get_container_stats', {});
    expect(plain.content.filter((c) => c.type === 'image')).toEqual([]);
  });
});
