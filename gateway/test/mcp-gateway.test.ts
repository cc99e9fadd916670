import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, LoggingMessageNotificationSchema, McpError, ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, type TestPki } from './support/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });


function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

describe('gateway over real shards and the real MCP client', () => {
  let dir: string;
  let pki: TestPki;
  let kitchen: KitchenSinkControl;
  let spare: KitchenSinkControl | undefined;
  let sparePort: number;
  let gateway: Gateway;
  let client: Client;
  const listChanges: number[] = [];

  const listen = (identity: string, port = 0) => ({ host: '127.0.0.1', port, tls: pki.shardTls(identity) });
  const startSpare = async (port = 0) => startKitchenSink({ name: 'spare', listen: listen('shard-spare', port), logger });
  const toolNames = async () => (await client.listTools()).tools.map((t) => t.name);
  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-mcp-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-kitchen', 'shard-spare']);
    kitchen = await startKitchenSink({ name: 'kitchen', listen: listen('shard-kitchen'), logger });
    spare = await startSpare();
    sparePort = spare.port;
    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'data')),
        SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`,
        SHARD_SPARE_URL: `127.0.0.1:${sparePort}`,
        GATEWAY_BODY_LIMIT_BYTES: '65536',
        GATEWAY_RECONNECT_INITIAL_MS: '100',
        GATEWAY_RECONNECT_MAX_MS: '500',
        // This process runs the gateway, every shard and the load on two shared cores; its event loop can
        // stall for longer than the default ping timeout, which would read as a lost link.
        GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000',
      }),
      logger,
    );
    await waitFor('both shards serving', () => gateway.shards().every((s) => s.state === 'serving'));
    client = new Client({ name: 'gateway-test', version: '1.0.0' });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanges.push(Date.now());
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
  });

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await spare?.close();
    await kitchen?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every RPC of both shards, prefixed only where names collide, plus homelab_status', async () => {
    const names = await toolNames();
    expect(names).toEqual(
      expect.arrayContaining(['homelab_status', 'kitchen_echo', 'kitchen_count', 'kitchen_fail', 'kitchen_change', 'spare_echo', 'spare_count', 'spare_fail', 'spare_change']),
    );
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    const echo = (await client.listTools()).tools.find((t) => t.name === 'kitchen_echo')!;
    expect(echo.description).toContain('Echo every field back unchanged');
    expect(echo.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
  });

  it('round-trips every kind of value through tools/call exactly', async () => {
    const echo = (await client.listTools()).tools.find((t) => t.name === 'kitchen_echo')!;
    const props = Object.keys(echo.inputSchema.properties ?? {});
    const key = (snake: string) => props.find((p) => p === snake || p === snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())) ?? snake;
    const values: Record<string, unknown> = {
      f_double: 1.25,
      f_float: 1.5,
      f_int32: -42,
      f_int64: '-9007199254740993',
      f_uint32: 4294967295,
      f_uint64: '18446744073709551615',
      f_sint32: -7,
      f_sint64: '-9223372036854775808',
      f_fixed32: 7,
      f_fixed64: '9007199254740993',
      f_sfixed32: -8,
      f_sfixed64: '-9007199254740993',
      f_bool: true,
      f_string: 'héllo "world"',
      f_bytes: 'AAEC/w==',
      f_enum: 'COLOR_GREEN',
      f_nested: { label: 'n', value: 3 },
      r_string: ['a', 'b'],
      r_nested: [{ label: 'x', value: 1 }, { label: 'y', value: 2 }],
      r_enum: ['COLOR_RED', 'COLOR_GREEN'],
      m_string_int: { a: 1, b: -2 },
      m_int_nested: { '5': { label: 'five', value: 5 } },
      choice_b: { label: 'b', value: 9 },
      o_int32: 0,
      tree: { name: 'root', children: [{ name: 'leaf', children: [] }] },
      w_timestamp: '2024-01-02T03:04:05.123Z',
      w_duration: '1.500s',
      w_struct: { k: 'v', n: 1, nested: { list: [true, null] } },
      w_value: [1, 'two'],
      w_list: ['x', 2],
      w_int64: '-5',
      w_string: '',
      w_bool: false,
      w_mask: 'fString,fNested.label',
      w_empty: {},
      f_ranged: 10,
      w_double: 2.5,
      w_bytes: 'AQ==',
      w_uint32: 4000000000,
    };
    const args = Object.fromEntries(Object.entries(values).map(([k, v]) => [key(k), v]));
    const result = await call('kitchen_echo', args);
    expect(result.isError).toBeFalsy();
    const echoed = (result.structuredContent as { echo: Record<string, unknown> }).echo;
    const normalize = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
    for (const [k, v] of Object.entries(args)) {
      const got = echoed[k] ?? echoed[Object.keys(echoed).find((e) => e.replace(/_/g, '').toLowerCase() === k.replace(/_/g, '').toLowerCase()) ?? k];
      // Default-valued fields (like o_int32 = 0 with presence) must still come back.
      expect({ [k]: normalize(got) }).toEqual({ [k]: normalize(v) });
    }
    expect(text(result).length).toBeGreaterThan(0);
  });

  it('answers invalid and unknown arguments with a tool error naming the field, what is wrong and an example', async () => {
    const bad = await call('kitchen_echo', { f_string: 'x', f_ranged: 50 });
    expect(bad.isError).toBe(true);
    const badText = text(bad);
    expect(badText).toMatch(/^Invalid arguments for kitchen_echo:\n- f_ranged: must be at most \d+ \(e\.g\. /);
    expect(badText).not.toContain('MCP error');
    expect(bad._meta?.['homelab-mcp/error']).toMatchObject({ code: 'INVALID_ARGUMENT', violations: [expect.objectContaining({ path: 'f_ranged' })] });
    const unknown = await call('kitchen_echo', { f_string: 'x', no_such_field: 1 });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/no_such_field: unknown field .*the fields here are f_double, f_float/);
    // An unknown tool stays a protocol error, its message said once.
    const err = await call('no_such_tool').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).message).toBe('MCP error -32602: Unknown tool "no_such_tool". Call tools/list for the tools available now.');
    await expect(call('no_such_tool')).rejects.toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringContaining('no_such_tool') });
    // A name no tool can have says why, so a model that garbled it knows what to fix.
    await expect(call('kitchen echo')).rejects.toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringMatching(/Unknown tool "kitchen echo"\. Tool name contains spaces.*Call tools\/list/) });
  });

  it('turns gRPC failures into isError results a person can act on', async () => {
    const notFound = await call('kitchen_fail', { code: 5, message: 'no route gitea' });
    expect(notFound.isError).toBe(true);
    expect(text(notFound)).toMatch(/not found: no route gitea/);
    expect(text(notFound)).toContain('What to do: Send code 0 to succeed.');
    const invalid = await call('kitchen_fail', { code: 3, message: 'bad' });
    expect(text(invalid)).toMatch(/invalid argument/);
    expect(text(invalid)).toContain('field message: asked to be invalid');
    const ok = await call('kitchen_fail', { code: 0 });
    expect(ok.isError).toBeFalsy();
  });

  it('reports progress for each streamed message and merges the stream', async () => {
    const progress: number[] = [];
    const result = (await client.callTool({ name: 'kitchen_count', arguments: { count: 5, interval: '0.010s' } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    expect(result.structuredContent).toMatchObject({ numbers: [1, 2, 3, 4, 5], last: 5 });
  });

  it('cancelling a call stops the shard-side handler', async () => {
    const before = kitchen.observations.countAborted;
    const controller = new AbortController();
    let firstProgress: () => void = () => undefined;
    const started = new Promise<void>((r) => (firstProgress = r));
    const pending = client.callTool({ name: 'kitchen_count', arguments: { count: 1000, interval: '0.050s' } }, undefined, {
      signal: controller.signal,
      onprogress: () => firstProgress(),
    });
    await started;
    controller.abort('user changed their mind');
    await expect(pending).rejects.toThrow();
    await waitFor('the shard handler to see the abort', () => kitchen.observations.countAborted === before + 1);
    expect(kitchen.observations.countFinished).toBe(1);
  });

  it('enforces plan -> apply: only a plan issued to this caller for these arguments, once', async () => {
    const refused = await call('kitchen_change', { value: 'a', plan_id: 'made-up' });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/not issued by this gateway/);

    const planned = await call('kitchen_change', { value: 'a' });
    expect(planned.isError).toBeFalsy();
    const planId = (planned.structuredContent as { plan: { id: string } }).plan.id;
    expect(text(planned)).toContain(planId);

    const otherArgs = await call('kitchen_change', { value: 'b', plan_id: planId });
    expect(otherArgs.isError).toBe(true);
    expect(text(otherArgs)).toMatch(/different arguments/);

    const applied = await call('kitchen_change', { value: 'a', plan_id: planId });
    expect(applied.isError).toBeFalsy();
    expect(applied.structuredContent).toMatchObject({ applied: true, value: 'a' });

    const twice = await call('kitchen_change', { value: 'a', plan_id: planId });
    expect(twice.isError).toBe(true);
    expect(text(twice)).toMatch(/already applied/);
    expect(kitchen.observations.applied).toEqual(['a']);
    // The client's token never reaches the shard; only a non-secret subject does.
    expect(kitchen.observations.subjects.every((s) => s.startsWith('token:') && !s.includes(gateway.token!))).toBe(true);
  });

  it('hides a killed shard at once, keeps the others working, and brings it back', async () => {
    // Two more sessions watch the log lines of this: one asked for warnings and worse, one asked for nothing.
    const watchers = await Promise.all(
      [undefined, 'warning' as const].map(async (level) => {
        const watcher = new Client({ name: `log-${level ?? 'all'}`, version: '1.0.0' });
        const lines: { level: string; data: unknown }[] = [];
        watcher.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(n.params));
        await watcher.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
        if (level) await watcher.setLoggingLevel(level);
        return { watcher, lines };
      }),
    );
    const [everything, warnings] = watchers as [(typeof watchers)[0], (typeof watchers)[0]];
    const seen = listChanges.length;
    const killedAt = Date.now();
    await spare!.close();
    spare = undefined;
    await waitFor('tools/list_changed after the kill', () => listChanges.length > seen);
    logger.info({ latencyMs: listChanges[listChanges.length - 1]! - killedAt }, 'list_changed latency after kill');
    console.log(`list_changed ${listChanges[listChanges.length - 1]! - killedAt} ms after the shard was killed`);
    await waitFor('spare tools gone', async () => !(await toolNames()).some((n) => n.startsWith('spare_')));

    const echo = await call('kitchen_echo', { f_string: 'still here' });
    expect(echo.isError).toBeFalsy();
    // A shard shutting down first reports NOT_SERVING, then its connection ends: both hide its tools.
    const early = await call('spare_echo', { f_string: 'anyone?' });
    expect(early.isError).toBe(true);
    expect(text(early)).toMatch(/spare shard is (not serving|unreachable|connecting|failed)/);
    const spareState = async () =>
      ((await call('homelab_status')).structuredContent as { shards: { name: string; state: string }[] }).shards.find((s) => s.name === 'spare')?.state;
    await waitFor('spare shown as unreachable once its process is gone', async () => (await spareState()) === 'unreachable');
    const offline = await call('spare_echo', { f_string: 'anyone?' });
    expect(offline.isError).toBe(true);
    expect(text(offline)).toMatch(/spare shard is unreachable/);

    const again = listChanges.length;
    spare = await startSpare(sparePort);
    await waitFor('tools/list_changed after the restart', () => listChanges.length > again);
    await waitFor('spare tools back', async () => (await toolNames()).includes('spare_echo'));
    expect((await call('spare_echo', { f_string: 'back' })).isError).toBeFalsy();
    await waitFor('the unfiltered session told that spare serves again', () => everything.lines.some((l) => l.level === 'info' && JSON.stringify(l.data).includes('spare')));
    expect(everything.lines.some((l) => l.level === 'warning')).toBe(true);
    expect(warnings.lines.some((l) => l.level === 'warning')).toBe(true);
    expect(warnings.lines.filter((l) => l.level === 'info')).toEqual([]);
    await Promise.all(watchers.map((w) => w.watcher.close()));
  });

  it('hides a shard whose upstream is down until it recovers', async () => {
    await kitchen.setUpstreamUp(false);
    await waitFor('kitchen tools hidden', async () => !(await toolNames()).includes('kitchen_echo'));
    // The health protocol carries no reason; the shard's status service says why.
    await waitFor("the shard's reason", () => gateway.shards().find((s) => s.name === 'kitchen')?.lastError === 'the shard reports NOT_SERVING: the kitchen is closed');
    const down = await call('kitchen_echo', { f_string: 'x' });
    expect(text(down)).toMatch(/kitchen shard is not serving/);
    await kitchen.setUpstreamUp(true);
    await waitFor('kitchen tools back', async () => (await toolNames()).includes('kitchen_echo'));
  });

  it('refuses foreign origins, missing or wrong tokens and oversized bodies over HTTP', async () => {
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const post = (extra: Record<string, string>, body = init) => fetch(gateway.url, { method: 'POST', headers: { ...headers, ...extra }, body });

    expect((await post({ authorization: `Bearer ${gateway.token}`, origin: 'http://evil.example.com' })).status).toBe(403);
    const missing = await post({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await post({ authorization: 'Bearer not-the-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    expect((await post({ authorization: `Bearer ${gateway.token}` }, JSON.stringify({ pad: 'x'.repeat(70_000) }))).status).toBe(413);
    const ok = await post({ authorization: `Bearer ${gateway.token}`, origin: new URL(gateway.url).origin });
    expect(ok.status).toBe(200);

    const health = await (await fetch(gateway.url.replace('/mcp', '/healthz'))).json();
    expect(health).toMatchObject({ status: 'ok', shards: expect.arrayContaining([expect.objectContaining({ name: 'kitchen', state: 'serving' })]) });
    expect((await fetch(gateway.url.replace('/mcp', '/metrics'))).status).toBe(401);
    const metrics = await (await fetch(gateway.url.replace('/mcp', '/metrics'), { headers: { authorization: `Bearer ${gateway.token}` } })).text();
    expect(metrics).toMatch(/homelab_mcp_tool_calls_total\{tool="kitchen_echo",shard="kitchen",outcome="ok"\} \d+/);
    expect(metrics).toMatch(/homelab_mcp_shard_up\{shard="kitchen",state="serving"\} 1/);
  });
});
