import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import { CallToolRequestSchema, ListToolsRequestSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

export interface DirectTool {
  name: string;
  description: string;
  inputSchema: { type: 'object'; [k: string]: unknown };
  run: (args: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

export interface DirectServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The baseline of the benchmark: a plain MCP SDK server that does the tool's
 * work in-process, built the fast way (one shared JSON-schema validator, one
 * Server per session, JSON responses), so the gateway is compared with the best
 * a direct server can do rather than a strawman.
 */
export async function startDirectServer(tools: DirectTool[], port = 0): Promise<DirectServer> {
  const validator = new AjvJsonSchemaValidator();
  const byName = new Map(tools.map((t) => [t.name, t]));
  const listed = tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }));
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const newServer = (): Server => {
    const server = new Server(
      { name: 'direct', version: '1' },
      { capabilities: { tools: {} }, jsonSchemaValidator: validator },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listed }));
    server.setRequestHandler(CallToolRequestSchema, async (req) => {
      const tool = byName.get(req.params.name);
      if (!tool) return { isError: true, content: [{ type: 'text', text: `unknown tool ${req.params.name}` }] };
      const out = await tool.run(req.params.arguments ?? {});
      return { structuredContent: out, content: [{ type: 'text', text: JSON.stringify(out) }] };
    });
    return server;
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  };

  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (!transport && isInitializeRequest(body)) {
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: true,
          onsessioninitialized: (id) => { if (transport) sessions.set(id, transport); },
        });
        transport.onclose = () => { if (transport?.sessionId) sessions.delete(transport.sessionId); };
        await newServer().connect(transport);
      }
      if (!transport) {
        res.writeHead(400).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'no session' }, id: null }));
        return;
      }
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const bound = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    close: async () => {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
