import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { NodeStreamableHttpTransport } from '../src/http/node-transport.js';

// The gateway's streamable HTTP transport under the SDK's Server, on a plain
// node:http server: what a client sees on the wire in both answer modes.

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } } };

/** A tool `wait` that answers when the test lets it (release), and `echo` that answers at once. */
function mcpServer(waiting: (() => void)[]): Server {
  const server = new Server({ name: 'transport-test', version: '1' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    if (req.params.name === 'wait') await new Promise<void>((resolve) => waiting.push(resolve));
    return { content: [{ type: 'text', text: `done ${req.params.name}` }] };
  });
  return server;
}

describe('the node:http streamable HTTP transport', () => {
  let http: HttpServer;
  let url: string;
  const waiting: (() => void)[] = [];
  const transports = new Map<string, NodeStreamableHttpTransport>();
  let jsonMode = false;

  beforeAll(async () => {
    http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
        const id = req.headers['mcp-session-id'];
        let transport = typeof id === 'string' ? transports.get(id) : undefined;
        if (!transport) {
          transport = new NodeStreamableHttpTransport({ sessionIdGenerator: () => `s${transports.size + 1}`, enableJsonResponse: jsonMode, onsessioninitialized: (sid) => transports.set(sid, transport!) });
          void mcpServer(waiting).connect(transport);
        }
        void transport.handleRequest(req, res, body);
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });

  afterAll(async () => {
    for (const t of transports.values()) await t.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  const post = (body: unknown, session?: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { accept: ACCEPT, 'content-type': 'application/json', ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}), ...headers }, body: JSON.stringify(body) });
  const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

  async function open(json: boolean): Promise<string> {
    jsonMode = json;
    const res = await post(INIT);
    expect(res.status).toBe(200);
    const session = res.headers.get('mcp-session-id') ?? '';
    expect(session).not.toBe('');
    await res.text();
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);
    return session;
  }

  it('answers with SSE events, keeps one GET stream per session, and ends the session on DELETE', async () => {
    const session = await open(false);
    const res = await post(call(2, 'echo'), session);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('mcp-session-id')).toBe(session);
    expect(await res.text()).toMatch(/^event: message\ndata: \{.*"done echo".*\}\n\n$/s);

    const controller = new AbortController();
    const stream = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session }, signal: controller.signal });
    expect(stream.status).toBe(200);
    const second = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session } });
    expect(second.status).toBe(409);
    controller.abort();

    expect((await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } })).status).toBe(200);
    const after = await post(call(3, 'echo'), session);
    expect(after.status).toBe(404);
  });

  it('answers each POST with one JSON body in JSON mode, call after call', async () => {
    const session = await open(true);
    for (let id = 2; id < 12; id++) {
      const res = await post(call(id, 'echo'), session);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id, result: { content: [{ text: 'done echo' }] } });
    }
  });

  it('keeps serving a session whose client left before its answer', async () => {
    const session = await open(true);
    const left = post(call(2, 'wait'), session).catch(() => undefined);
    await new Promise<void>((resolve) => {
      const check = (): void => void (waiting.length ? resolve() : setTimeout(check, 10));
      check();
    });
    // The client goes away: its connection closes before the answer.
    http.closeAllConnections();
    await left;
    waiting.splice(0).forEach((release) => release());
    const res = await post(call(3, 'echo'), session);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 3, result: { content: [{ text: 'done echo' }] } });
  });

  it('refuses what the protocol does not allow, with the reason', async () => {
    const session = await open(true);
    const wrongAccept = await post(call(2, 'echo'), session, { accept: 'application/json' });
    expect(wrongAccept.status).toBe(406);
    const wrongVersion = await post(call(3, 'echo'), session, { 'mcp-protocol-version': '1999-01-01' });
    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.text()).toMatch(/Unsupported protocol version: 1999-01-01/);
    const notJsonRpc = await post({ hello: 'world' }, session);
    expect(notJsonRpc.status).toBe(400);
    expect(await notJsonRpc.text()).toMatch(/Invalid JSON-RPC message/);
    const put = await fetch(url, { method: 'PUT', headers: { 'mcp-session-id': session } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE');
  });
});
