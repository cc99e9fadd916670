import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpRequest } from './mcp-request.js';
import { NodeStreamableHttpTransport } from './node-transport.js';
import { rpcError, sendJson } from './responses.js';
import type { Session, SessionRegistry } from './sessions.js';
import { dispatchPlainMessages } from './jsonrpc-shape.js';

/** The client's credential stays at the edge: handlers see who is calling and what they may do, never the token. */
function authInfoOf(request: McpRequest): AuthInfo {
  const { principal } = request;
  return { token: 'redacted', clientId: principal.subject, scopes: principal.scopes, ...(principal.expiresAt ? { expiresAt: principal.expiresAt } : {}) };
}

/** The version a session settles on, as the SDK server negotiates it. */
function negotiatedVersion(initialize: unknown): string {
  const requested = (initialize as { params?: { protocolVersion?: unknown } }).params?.protocolVersion;
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}

/** No sessions: a server and a transport for this one POST, closed with it. */
export async function serveStateless(request: McpRequest, createServer: () => Server, jsonResponse: boolean): Promise<void> {
  const { req, res } = request;
  if (req.method !== 'POST') {
    sendJson(res, 405, rpcError(-32000, 'Method not allowed: this gateway runs stateless; use POST'), { allow: 'POST' });
    return;
  }
  const server = createServer();
  const transport = new NodeStreamableHttpTransport({ enableJsonResponse: jsonResponse });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  dispatchPlainMessages(server, transport);
  await transport.handleRequest(req, res, request.body, authInfoOf(request));
}

/** A request in an existing session, which only the subject that opened it may use. */
export async function serveSession(request: McpRequest, session: Session | undefined): Promise<void> {
  if (!session) {
    request.refuse(404, -32001, 'Session not found: initialize a new session');
    return;
  }
  if (session.subject !== request.principal.subject) {
    request.refuse(403, -32001, 'Forbidden: this session belongs to another caller; initialize your own session');
    return;
  }
  session.lastSeen = Date.now();
  // An open GET stream only listens; a session counts as busy while it has requests in flight.
  if (request.req.method !== 'GET') {
    session.inflight++;
    request.res.on('close', () => {
      session.inflight--;
      session.lastSeen = Date.now();
    });
  }
  await session.transport.handleRequest(request.req, request.res, request.body, authInfoOf(request));
}

/** An initialize request without a session: a new session, if the caller has room for one. */
export async function openSession(request: McpRequest, sessions: SessionRegistry, createServer: () => Server): Promise<void> {
  const { req, res } = request;
  const initialize = req.method === 'POST' ? request.messages.find((m) => isInitializeRequest(m)) : undefined;
  if (!initialize) {
    request.refuse(400, -32000, 'Bad Request: Mcp-Session-Id header is required (initialize first)');
    return;
  }
  const subject = request.principal.subject;
  const refusal = sessions.admit(subject);
  if (refusal) {
    sendJson(res, refusal.status, rpcError(-32000, refusal.message), { 'retry-after': String(refusal.retryAfterSeconds) });
    return;
  }
  await sessions.open(subject, negotiatedVersion(initialize), createServer(), (listener) => res.on('close', listener), (transport) => transport.handleRequest(req, res, request.body, authInfoOf(request)));
}
