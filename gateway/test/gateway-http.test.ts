import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { FIXTURE_ERROR_TEXT, startFixtureShard, type FixtureShard } from './support/fixture-shard.js';
import { waitFor } from '@homelab-mcp/component-kit';

// The gateway against a plain grpc-js shard (reflection v1alpha only, loopback
// plaintext): HTTP guards, sessions, stateless mode, and a shard that dies.

const logger = pino({ level: 'silent' });


describe('gateway HTTP face with a fixture shard', () => {
  let dir: string;
  let shard: FixtureShard | undefined;
  let shardPort: number;
  const gateways: Gateway[] = [];

  const start = async (env: Record<string, string>) => {
    const gw = await startGateway(
      parseGatewayConfig({
        GATEWAY_LISTEN: '127.0.0.1:0',
        GATEWAY_DATA_DIR: join(dir, `data-${gateways.length}`),
        SHARD_FIXTURE_URL: `127.0.0.1:${shardPort}`,
        GATEWAY_PLAINTEXT_SHARDS: '1',
        GATEWAY_RECONNECT_INITIAL_MS: '50',
        GATEWAY_RECONNECT_MAX_MS: '200',
        ...env,
      }),
      logger,
    );
    gateways.push(gw);
    await waitFor('the fixture tool', () => gw.tools().some((t) => t.name === 'test_error_handling'));
    return gw;
  };
  /** Per client, whether the gateway has answered its standalone SSE stream (GET), which carries notifications. */
  const streamOpen = new WeakMap<Client, boolean>();
  const connect = async (gw: Gateway) => {
    const client = new Client({ name: 'http-test', version: '1' });
    const observed: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if ((init?.method ?? 'GET') === 'GET' && res.ok) streamOpen.set(client, true);
      return res;
    };
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { fetch: observed, requestInit: { headers: { authorization: `Bearer ${gw.token}` } } }));
    return client;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-http-'));
    shard = await startFixtureShard();
    shardPort = shard.port;
  });

  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    await shard?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the token file once with mode 0600 and reuses it', async () => {
    const gw = await start({ GATEWAY_DATA_DIR: join(dir, 'token-dir') });
    expect(gw.tokenCreated).toBe(true);
    expect(statSync(join(dir, 'token-dir', 'token')).mode & 0o777).toBe(0o600);
    const again = await start({ GATEWAY_DATA_DIR: join(dir, 'token-dir') });
    expect(again.tokenCreated).toBe(false);
    expect(again.token).toBe(gw.token);
  });

  it('guards /mcp: foreign Host or Origin 403, no or wrong token 401, big body 413', async () => {
    const gw = await start({ GATEWAY_BODY_LIMIT_BYTES: '1024' });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const post = (headers: Record<string, string>, b = body) =>
      fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: b });
    expect((await post({ origin: 'https://evil.example.com', authorization: `Bearer ${gw.token}` })).status).toBe(403);
    const noToken = await post({});
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toBe('Bearer realm="homelab-mcp"');
    expect((await post({ authorization: `Bearer ${gw.token}x` })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${gw.token}` }, JSON.stringify({ pad: 'x'.repeat(2048) }))).status).toBe(413);
  });

  it('answers tools/call in stateless JSON mode, with tool errors as isError results', async () => {
    const gw = await start({ GATEWAY_STATELESS: '1', GATEWAY_JSON_RESPONSE: '1' });
    const client = await connect(gw);
    const result = (await client.callTool({ name: 'test_error_handling', arguments: {} })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(result.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining(FIXTURE_ERROR_TEXT) });
    const status = (await client.callTool({ name: 'homelab_status', arguments: {} })) as CallToolResult;
    expect(status.structuredContent).toMatchObject({ shards: [{ name: 'fixture', state: 'serving', identity: 'shard-fixture', toolCount: 1 }] });
    await client.close();
  });

  it('refuses a malformed tools/call as invalid params, saying which part is wrong, alone or in a batch', async () => {
    const gw = await start({ GATEWAY_STATELESS: '1', GATEWAY_JSON_RESPONSE: '1' });
    // Batches exist up to protocol 2025-03-26.
    const send = async (body: unknown) => {
      const res = await fetch(gw.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${gw.token}`, 'mcp-protocol-version': '2025-03-26' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const call = (id: number, params: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params });
    const error = (id: number, code: number, message: string) => ({ jsonrpc: '2.0', id, error: expect.objectContaining({ code, message: expect.stringContaining(message) }) });
    expect(await send(call(1, { arguments: {} }))).toEqual({ status: 200, body: error(1, -32602, 'params.name must be the name of a tool') });
    // Params that are not an object are not a JSON-RPC request at all.
    expect(await send(call(2, 'test_error_handling'))).toEqual({ status: 400, body: expect.objectContaining({ error: expect.objectContaining({ code: -32700 }) }) });
    expect(await send(call(3, { name: 'test_error_handling', _meta: 5 }))).toEqual({ status: 400, body: expect.objectContaining({ error: expect.objectContaining({ code: -32700 }) }) });
    const { body: batch } = await send([call(4, { name: 'test_error_handling', arguments: ['a'] }), call(5, { name: 'test_error_handling', arguments: {} })]);
    expect(batch).toEqual([error(4, -32602, 'Invalid arguments for test_error_handling: (arguments): must be an object of named arguments'), expect.objectContaining({ id: 5, result: expect.objectContaining({ isError: true }) })]);
  });

  it('closes the least recently used session beyond the cap', async () => {
    const gw = await start({ GATEWAY_MAX_SESSIONS: '1' });
    const first = await connect(gw);
    const second = await connect(gw);
    await expect(second.ping()).resolves.toEqual({});
    await expect(first.ping()).rejects.toThrow(/Session not found|404/);
    await second.close();
  });

  it('sends tools/list_changed when the shard dies and when it is back', async () => {
    const gw = await start({});
    const client = await connect(gw);
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changes++;
    });
    await client.listTools();
    await waitFor("the client's notification stream", () => streamOpen.get(client));
    await shard!.close();
    shard = undefined;
    await waitFor('list_changed after the kill', () => changes >= 1);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['homelab_status', 'diagnose_service']);
    const offline = (await client.callTool({ name: 'test_error_handling', arguments: {} })) as CallToolResult;
    expect(offline.content[0]).toMatchObject({ text: expect.stringMatching(/fixture shard is (unreachable|connecting)/) });

    shard = await startFixtureShard(shardPort);
    await waitFor('list_changed after the restart', () => changes >= 2);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('test_error_handling');
    await client.close();
  });
});
