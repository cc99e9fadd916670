import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startAuthentikSim, type AuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, waitServing, type TestPki } from './support/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

// Attacks on the gateway's HTTP limits, over real sockets against the real
// endpoint: bodies that never finish, JSON-RPC batches, and one caller filling
// the session table. Each time another caller must keep being answered.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SLUG = 'homelab-mcp';
const CLIENT_ID = 'homelab-mcp-gateway';
const ACCEPT = 'application/json, text/event-stream';


interface RawExchange {
  /** Everything the gateway sent before it closed the connection. */
  closed: Promise<string>;
  /** Bytes of the body written so far. */
  sent(): number;
  socket: Socket;
}

/**
 * A request whose headers (or body) arrive one small piece at a time and never
 * complete, as a slowloris client sends them.
 */
function trickle(port: number, head: string, piece: string, everyMs = 200): RawExchange {
  const socket = netConnect(port, '127.0.0.1');
  let sent = 0;
  let received = '';
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write(head);
    timer = setInterval(() => {
      if (socket.writable) {
        socket.write(piece);
        sent += piece.length;
      }
    }, everyMs);
  });
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => {
      clearInterval(timer);
      resolve(received);
    });
    socket.on('error', () => undefined);
  });
  return { closed, sent: () => sent, socket };
}

describe('gateway HTTP limits under attack', () => {
  let dir: string;
  let pki: TestPki;
  let authentik: AuthentikSim;
  let kitchen: KitchenSinkControl;
  const gateways: Gateway[] = [];
  const clients: Client[] = [];
  const sockets: Socket[] = [];

  const token = (subject: string, scopes = ['homelab:read', 'homelab:write']) => authentik.issueAccessToken({ slug: SLUG, clientId: CLIENT_ID, scopes, subject });

  const dataDirs = new Map<Gateway, string>();
  const startGw = async (env: Record<string, string> = {}) => {
    const dataDir = join(dir, `data-${dataDirs.size}`);
    const gw = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(dataDir),
        SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`,
        GATEWAY_AUTH: 'oauth',
        GATEWAY_OAUTH_ISSUER: authentik.oauthIssuer(SLUG),
        GATEWAY_OAUTH_AUDIENCE: CLIENT_ID,
        // This process runs the gateway, the shard and the load on two shared cores.
        GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000',
        ...env,
      }),
      logger,
    );
    gateways.push(gw);
    dataDirs.set(gw, dataDir);
    await waitServing(gw);
    return gw;
  };

  const connect = async (gw: Gateway, subject: string) => {
    const client = new Client({ name: `limits-${subject}`, version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${await token(subject)}` } } }));
    clients.push(client);
    return client;
  };

  /** A raw JSON-RPC POST; returns the status, headers and the whole body (an SSE stream is read to its end). */
  const post = async (gw: Gateway, bearer: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: ACCEPT, ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  /** A session negotiated at the given protocol version, over raw HTTP; returns its headers for later requests. */
  const rawSession = async (gw: Gateway, bearer: string, protocolVersion: string) => {
    const init = await fetch(gw.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    expect(init.status).toBe(200);
    expect(await init.text()).toContain(`"protocolVersion":"${protocolVersion}"`);
    const session = init.headers.get('mcp-session-id')!;
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': protocolVersion };
    expect((await post(gw, bearer, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
    return headers;
  };

  /** The gateway's audit log, one object per line. */
  const auditOf = (gw: Gateway) => {
    const file = join(dataDirs.get(gw)!, 'audit.log');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  };
  const changeCall = (id: number, value: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'change', arguments: { value, password: 'hunter2' } } });

  const callsOf = async (gw: Gateway, tool: string) => (await gw.metrics.calls.get()).values.filter((v) => v.labels.tool === tool).reduce((n, v) => n + v.value, 0);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-limits-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
    authentik = await startAuthentikSim();
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    for (const gw of gateways.splice(0)) await gw.close();
  });

  afterAll(async () => {
    await kitchen?.close();
    await authentik?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('request bodies and headers that never finish', () => {
    it('answers 408 and closes, without holding in-flight slots, while SSE streams and long calls go on', async () => {
      const gw = await startGw({ GATEWAY_BODY_TIMEOUT_MS: '1500', GATEWAY_HEADERS_TIMEOUT_MS: '1000' });
      const port = gw.port;
      const bearer = await token('slow');
      // A client of the same subject with a standalone SSE stream and a call that outlasts the deadline.
      const listener = await connect(gw, 'slow');
      let listChanges = 0;
      listener.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        listChanges++;
      });
      const longCall = listener.callTool({ name: 'count', arguments: { count: 8, interval: '0.300s' } }) as Promise<CallToolResult>;

      // One more than the subject's 32 requests in flight, each a body that never completes.
      const head = (n: number) =>
        `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nContent-Length: ${n}\r\n\r\n`;
      const bodies = Array.from({ length: 33 }, () => trickle(port, head(4096), ' '));
      const headers = trickle(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, 'X-Slow: 1\r\n');
      sockets.push(...bodies.map((b) => b.socket), headers.socket);
      await waitFor('every slow body to have started', () => bodies.every((b) => b.sent() > 0));

      // The same subject is still answered: a body that has not arrived holds no slot.
      const same = await post(gw, bearer, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
      expect(same.status).toBe(200);
      const other = await connect(gw, 'bystander');
      expect((await other.callTool({ name: 'echo', arguments: { f_string: 'still here' } })).isError).toBeFalsy();

      const answers = await Promise.all(bodies.map((b) => b.closed));
      for (const a of answers) {
        expect(a).toMatch(/^HTTP\/1\.1 408 /);
        expect(a).toContain('GATEWAY_BODY_TIMEOUT_MS');
      }
      expect(await headers.closed).toMatch(/^HTTP\/1\.1 408 /);

      // The deadline covers receiving a request, not answering it.
      const counted = await longCall;
      expect(counted.isError).toBeFalsy();
      expect(counted.structuredContent).toMatchObject({ last: 8 });
      await kitchen.setUpstreamUp(false);
      await waitFor('tools/list_changed on the long-lived GET stream', () => listChanges >= 1);
      await kitchen.setUpstreamUp(true);
      await waitFor('the kitchen back', () => gw.tools().some((t) => t.name === 'echo'));
    }, 60_000);

    it('refuses a body deadline shorter than the header deadline, naming both variables', () => {
      expect(() => parseGatewayConfig({ GATEWAY_BODY_TIMEOUT_MS: '1000', GATEWAY_HEADERS_TIMEOUT_MS: '5000', GATEWAY_PLAINTEXT_SHARDS: '1' })).toThrow(/GATEWAY_BODY_TIMEOUT_MS.*GATEWAY_HEADERS_TIMEOUT_MS/);
    });
  });

  describe('JSON-RPC batches', () => {
    it('are refused where the negotiated protocol has no batches (2025-06-18 and later)', async () => {
      const gw = await startGw();
      const bearer = await token('modern');
      for (const version of ['2025-06-18', '2025-11-25']) {
        const headers = await rawSession(gw, bearer, version);
        const calls = Array.from({ length: 3 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'echo', arguments: { f_string: `b${i}` } } }));
        const before = await callsOf(gw, 'echo');
        const res = await post(gw, bearer, [...calls, changeCall(9, `smuggled-${version}`)], headers);
        expect(res.status).toBe(400);
        expect(JSON.parse(res.text)).toMatchObject({ error: { code: -32600, message: expect.stringContaining(`protocol ${version}`) } });
        expect(await callsOf(gw, 'echo')).toBe(before);
        // The write in the refused batch is on record, with the reason and without its secret.
        expect(auditOf(gw)).toContainEqual(
          expect.objectContaining({ subject: 'oauth:modern', tool: 'change', result: 'refused', arguments: { value: `smuggled-${version}`, password: '[REDACTED]' }, error: expect.stringContaining('batches') }),
        );
        // The session itself still works, one message at a time.
        const single = await post(gw, bearer, calls[0], headers);
        expect(single.status).toBe(200);
        expect(single.text).toContain('b0');
      }
    });

    it('count every message against the rate limit where batches are allowed (2025-03-26)', async () => {
      const gw = await startGw({ GATEWAY_RATE_LIMIT_PER_MINUTE: '60', GATEWAY_RATE_BURST: '30', GATEWAY_MAX_INFLIGHT_PER_SUBJECT: '0' });
      const bearer = await token('batcher');
      const headers = await rawSession(gw, bearer, '2025-03-26');
      const batch = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'tools/call', params: { name: 'echo', arguments: { f_string: `m${from + i}` } } }));
      const before = await callsOf(gw, 'echo');
      const first = await post(gw, bearer, batch(20, 100), headers);
      expect(first.status).toBe(200);
      expect(first.text).toContain('m119');
      const second = await post(gw, bearer, [...batch(19, 200), changeCall(219, 'too-fast')], headers);
      expect(second.status).toBe(429);
      expect(auditOf(gw)).toContainEqual(expect.objectContaining({ tool: 'change', result: 'refused', arguments: { value: 'too-fast', password: '[REDACTED]' }, error: expect.stringContaining('GATEWAY_RATE_LIMIT_PER_MINUTE') }));
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(second.text).error.message).toMatch(/GATEWAY_RATE_LIMIT_PER_MINUTE/);
      // 22 of 30 were spent (initialize, initialized, 20 calls): a batch larger than the whole burst can never pass.
      const huge = await post(gw, bearer, batch(31, 300), headers);
      expect(huge.status).toBe(400);
      expect(JSON.parse(huge.text).error.message).toMatch(/31 messages.*GATEWAY_RATE_BURST/);
      expect((await callsOf(gw, 'echo')) - before).toBe(20);
      // Another caller is not affected.
      const other = await connect(gw, 'bystander');
      expect((await other.callTool({ name: 'echo', arguments: { f_string: 'hi' } })).isError).toBeFalsy();
    });

    it('count every message against the requests in flight (2025-03-26)', async () => {
      const gw = await startGw({ GATEWAY_RATE_LIMIT_PER_MINUTE: '0', GATEWAY_MAX_INFLIGHT_PER_SUBJECT: '8' });
      const bearer = await token('parallel-batcher');
      const headers = await rawSession(gw, bearer, '2025-03-26');
      const slow = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'tools/call', params: { name: 'count', arguments: { count: 1000, interval: '1s' } } }));
      const started = kitchen.observations.countStarted;
      // Five slow calls stay in flight (their answers stream until the test ends).
      const res = await fetch(gw.url, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: ACCEPT, ...headers }, body: JSON.stringify(slow(5, 1)) });
      expect(res.status).toBe(200);
      await waitFor('five calls running on the shard', () => kitchen.observations.countStarted >= started + 5);
      const more = await post(gw, bearer, slow(5, 10), headers);
      expect(more.status).toBe(429);
      expect(JSON.parse(more.text).error.message).toMatch(/GATEWAY_MAX_INFLIGHT_PER_SUBJECT/);
      const tooBig = await post(gw, bearer, slow(9, 20), headers);
      expect(tooBig.status).toBe(400);
      expect(JSON.parse(tooBig.text).error.message).toMatch(/9 messages.*GATEWAY_MAX_INFLIGHT_PER_SUBJECT/);
      expect(kitchen.observations.countStarted).toBe(started + 5);
      await res.body?.cancel();
    });
  });

  describe('sessions', () => {
    it('caps sessions per subject with 429; a subject never evicts another subject’s session', async () => {
      const gw = await startGw({ GATEWAY_MAX_SESSIONS: '6', GATEWAY_MAX_SESSIONS_PER_SUBJECT: '3' });
      const alice = await connect(gw, 'alice');
      const hogBearer = await token('hog', ['homelab:read']);
      const open = (bearer: string) =>
        post(gw, bearer, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'hog', version: '1' } } });
      const statuses: number[] = [];
      let refused: Awaited<ReturnType<typeof open>> | undefined;
      for (let i = 0; i < 10; i++) {
        const res = await open(hogBearer);
        statuses.push(res.status);
        if (res.status !== 200) refused ??= res;
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
      expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(refused!.text).error.message).toMatch(/GATEWAY_MAX_SESSIONS_PER_SUBJECT/);
      expect(await alice.ping()).toEqual({});
    });

    it('at the global cap a subject may close only its own idle session; otherwise 503', async () => {
      const gw = await startGw({ GATEWAY_MAX_SESSIONS: '4', GATEWAY_MAX_SESSIONS_PER_SUBJECT: '3' });
      // Alice's session is the least recently used of all.
      const alice = await connect(gw, 'alice');
      const bob = await connect(gw, 'bob');
      const hog1 = await connect(gw, 'hog');
      const hog2 = await connect(gw, 'hog');
      expect(gw.shards()).toHaveLength(1);
      // The table is full: hog's third session replaces hog's own oldest one, not alice's.
      const hog3 = await connect(gw, 'hog');
      await expect(hog1.ping()).rejects.toThrow(/Session not found|404/);
      expect(await hog2.ping()).toEqual({});
      expect(await hog3.ping()).toEqual({});
      expect(await alice.ping()).toEqual({});
      expect(await bob.ping()).toEqual({});
      // Carol has no session to give up: she is told to come back, and nobody loses theirs.
      const carol = await post(gw, await token('carol'), { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'carol', version: '1' } } });
      expect(carol.status).toBe(503);
      expect(Number(carol.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(carol.text).error.message).toMatch(/GATEWAY_MAX_SESSIONS\b/);
      expect(await alice.ping()).toEqual({});
      expect(await bob.ping()).toEqual({});
    });
  });
});
