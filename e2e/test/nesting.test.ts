import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startAuthentikSim, type AuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { parseConfig as parseGatekeeperConfig, startGatekeeper } from '@homelab-mcp/shard-authentik';
import { MAX_MESSAGE_DEPTH, MAX_VALUE_DEPTH } from '@homelab-mcp/gateway/schema/index.js';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, waitServing } from '@homelab-mcp/gateway/testing/test-pki.js';

// Nesting that protobuf decoding cannot take (ts-proto and protobuf-es stop at
// 100 message levels; a google.protobuf.Struct costs three per JSON level) is
// refused by the gateway as invalid arguments naming the field and the limit,
// and what it accepts reaches the shard and comes back whole.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** `levels` objects, one inside the other: {"a": {"a": ... "leaf"}}. */
function objects(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}
/** `levels` arrays, one inside the other. */
function arrays(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}
/** A recursive message `levels` deep: tree.children[0].children[0]... */
function tree(levels: number): unknown {
  let v: Record<string, unknown> = { name: 'leaf' };
  for (let i = 1; i < levels; i++) v = { name: `n${i}`, children: [v] };
  return v;
}

describe('nesting the gateway forwards, and nesting it refuses', () => {
  let dir: string;
  let authentik: AuthentikSim;
  let gatekeeper: RunningShard;
  let kitchen: KitchenSinkControl;
  let gateway: Gateway;
  let client: Client;

  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const refusal = async (name: string, args: Record<string, unknown>) => {
    const result = await call(name, args);
    expect(result.isError).toBe(true);
    const message = result.content.map((p) => (p.type === 'text' ? p.text : '')).join('\n');
    return { message, data: result._meta?.['homelab-mcp/error'] as { violations?: { path: string; message: string }[] } | undefined };
  };

  /**
   * tools/call over raw HTTP in the client's session, with the arguments as JSON text: nesting this
   * deep is more than JSON.stringify (and so the SDK client) can write.
   */
  const rawCall = async (name: string, argsJson: string) => {
    const transport = client.transport as StreamableHTTPClientTransport;
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': transport.protocolVersion ?? '2025-11-25',
      },
      body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${argsJson}}}`,
    });
    const data = (await res.text()).split('\n').find((l) => l.startsWith('data: '));
    const answer = JSON.parse(data!.slice(6)) as { result?: CallToolResult };
    const result = answer.result;
    return { isError: result?.isError, text: result?.content.map((p) => (p.type === 'text' ? p.text : '')).join('\n') ?? '', violations: (result?._meta?.['homelab-mcp/error'] as { violations?: { path: string }[] } | undefined)?.violations };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-nesting-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-authentik', 'shard-kitchen']);
    authentik = await startAuthentikSim();
    const tokenFile = join(dir, 'authentik-token');
    await writeFile(tokenFile, `${authentik.token}\n`, { mode: 0o600 });
    const tls = pki.shardTls('shard-authentik');
    gatekeeper = await startGatekeeper(
      parseGatekeeperConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, AUTHENTIK_URL: authentik.url, AUTHENTIK_TOKEN_FILE: tokenFile }),
      logger,
    );
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'gateway')),
        SHARD_AUTHENTIK_URL: `127.0.0.1:${gatekeeper.port}`,
        SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`,
        GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000',
      }),
      logger,
    );
    await waitServing(gateway);
    client = new Client({ name: 'nesting-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
  });

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await gatekeeper?.close(0);
    await kitchen?.close();
    await authentik?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses sync_brand.attributes nested beyond the limit, naming the field and the limit, before the shard', async () => {
    const invalidBefore = (await gateway.metrics.calls.get()).values.filter((v) => v.labels.tool === 'sync_brand' && v.labels.outcome === 'invalid').reduce((n, v) => n + v.value, 0);
    for (const depth of [MAX_VALUE_DEPTH + 1, 34, 40, 49, 500]) {
      const err = await refusal('sync_brand', { domain: 'auth.home.lan', attributes: objects(depth) });
      expect(err.message).toContain(`Invalid arguments for sync_brand:\n- attributes: nests objects and arrays more than ${MAX_VALUE_DEPTH} levels deep`);
      expect(err.data?.violations?.[0]?.path).toBe('attributes');
    }
    const huge = await rawCall('sync_brand', `{"domain":"auth.home.lan","attributes":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`);
    expect(huge).toMatchObject({ isError: true, text: expect.stringContaining(`attributes: nests objects and arrays more than ${MAX_VALUE_DEPTH} levels deep`) });
    // The attempted write is on record too, its arguments cut where they stop being readable.
    const audit = (await readFile(join(dir, 'gateway', 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { tool: string; result: string; error: string; arguments: unknown });
    const last = audit.filter((l) => l.tool === 'sync_brand').pop();
    expect(last).toMatchObject({ result: 'refused', error: expect.stringContaining('validation: ') });
    expect(JSON.stringify(last?.arguments)).toContain('[nested deeper');
    const invalidAfter = (await gateway.metrics.calls.get()).values.filter((v) => v.labels.tool === 'sync_brand' && v.labels.outcome === 'invalid').reduce((n, v) => n + v.value, 0);
    expect(invalidAfter - invalidBefore).toBe(6);
  });

  it('forwards attributes up to the limit to the real shard, which plans them', async () => {
    const planned = await call('sync_brand', { domain: 'nested.home.lan', attributes: objects(MAX_VALUE_DEPTH) });
    expect(planned.isError).toBeFalsy();
    expect((planned.structuredContent as { plan: { id: string } }).plan.id).toBeTruthy();
  });

  it('round-trips Struct, Value and ListValue at the limit and refuses one level more', async () => {
    const atLimit = { f_string: 'x', w_struct: objects(MAX_VALUE_DEPTH), w_value: arrays(MAX_VALUE_DEPTH), w_list: [arrays(MAX_VALUE_DEPTH - 1)] };
    const echoed = await call('echo', atLimit);
    expect(echoed.isError).toBeFalsy();
    expect((echoed.structuredContent as { echo: unknown }).echo).toMatchObject(atLimit);
    for (const [field, value] of [['w_struct', objects(MAX_VALUE_DEPTH + 1)], ['w_value', arrays(MAX_VALUE_DEPTH + 1)], ['w_list', [arrays(MAX_VALUE_DEPTH)]], ['w_value', { a: arrays(60) }]] as const) {
      const err = await refusal('echo', { f_string: 'x', [field]: value });
      expect(err.data?.violations?.[0]?.path).toBe(field);
      expect(err.message).toContain(`at most ${MAX_VALUE_DEPTH} levels`);
    }
  });

  it('refuses a recursive message nested beyond the limit, naming where it crosses it', async () => {
    const echoed = await call('echo', { f_string: 'x', tree: tree(MAX_MESSAGE_DEPTH - 1) });
    expect(echoed.isError).toBeFalsy();
    const err = await refusal('echo', { f_string: 'x', tree: tree(MAX_MESSAGE_DEPTH) });
    const path = err.data?.violations?.[0]?.path ?? '';
    expect(path).toMatch(/^tree(\.children\[0\])+$/);
    expect(err.message).toContain(`${MAX_MESSAGE_DEPTH} levels`);
    const huge = await rawCall('echo', `{"f_string":"x","tree":${'{"children":['.repeat(50_000)}{}${']}'.repeat(50_000)}}`);
    expect(huge).toMatchObject({ isError: true, text: expect.stringContaining(`more than ${MAX_MESSAGE_DEPTH} levels of messages`) });
    expect(huge.violations?.[0]?.path).toMatch(/^tree(\.children\[0\])+$/);
  });

  it('answers a shard whose answer is too deep to decode with a tool error, not an internal error', async () => {
    // Someone set these attributes in Authentik directly; the shard passes them on as they are.
    authentik.state.brands.push({ ...authentik.state.brands[0], brand_uuid: '00000000-0000-4000-8000-00000000dee9', domain: 'deep.home.lan', default: false, attributes: objects(60) });
    const listed = await call('list_brands', {});
    expect(listed.isError).toBe(true);
    expect(listed.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/^list_brands failed: the authentik shard's answer could not be read/) });
    expect(listed._meta?.['homelab-mcp/error']).toMatchObject({ code: 'INTERNAL', reason: 'UNREADABLE_ANSWER', shard: 'authentik' });
    authentik.state.brands.pop();
    expect((await call('list_brands', {})).isError).toBeFalsy();
  });

  it('says the limit in the schema of every Struct, Value and ListValue argument', async () => {
    const tools = (await client.listTools()).tools;
    const props = (name: string) => tools.find((t) => t.name === name)!.inputSchema.properties as Record<string, { description?: string }>;
    for (const [tool, field] of [['sync_brand', 'attributes'], ['echo', 'w_struct'], ['echo', 'w_value'], ['echo', 'w_list']] as const) {
      expect(props(tool)[field]?.description).toContain(`at most ${MAX_VALUE_DEPTH} levels`);
    }
  });
});
