import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { DEFAULT_NEGOTIATED_PROTOCOL_VERSION, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { SubjectLimits } from '../trust/limits.js';
import { createJwtVerifier, TokenRejectedError } from '../trust/oauth.js';
import { ALL_SCOPES, SCOPE_READ, type Principal } from '../trust/principal.js';
import { bearerToken, createTokenChecker, subjectOfToken } from './auth.js';
import type { GatewayMetrics } from './metrics.js';

interface Session {
  id: string;
  /** Who initialized it: only the same subject may use it. */
  subject: string;
  server: Server;
  transport: StreamableHTTPServerTransport;
  /** The protocol version negotiated at initialize: it decides whether JSON-RPC batches exist. */
  protocolVersion: string;
  lastSeen: number;
  inflight: number;
}

export interface HttpDeps {
  config: GatewayConfig;
  /** Static bearer token (auth mode `token`). */
  token?: string;
  logger: Logger;
  metrics: GatewayMetrics;
  createServer(): Server;
  /** Gateway + per-shard state for /healthz. */
  health(): { status: 'ok' | 'degraded'; [key: string]: unknown };
  /** Records a tools/call refused before it reached a tool handler (the audit keeps attempted writes). */
  refusedCall?(subject: string, tool: unknown, args: unknown, reason: string): void;
}

export interface McpHttpServer {
  port: number;
  url: string;
  /** Live session servers (notifications go to each). */
  servers(): Server[];
  sessionCount(): number;
  close(): Promise<void>;
}

/** RFC 9728: where the protected-resource metadata of a resource lives. */
export function resourceMetadataUrl(resource: URL): string {
  return new URL(`/.well-known/oauth-protected-resource${resource.pathname === '/' ? '' : resource.pathname}`, resource.origin).href;
}

type Authenticate = (header: string | undefined) => Promise<Principal>;

function createAuthenticator(config: GatewayConfig, token: string | undefined): Authenticate {
  if (config.auth.mode === 'none') {
    const local: Principal = { subject: 'local', scopes: [...ALL_SCOPES] };
    return () => Promise.resolve(local);
  }
  if (config.auth.mode === 'oauth') {
    const oauth = config.auth.oauth;
    if (!oauth) throw new Error('GATEWAY_AUTH=oauth needs GATEWAY_OAUTH_ISSUER and GATEWAY_OAUTH_AUDIENCE');
    const verify = createJwtVerifier(oauth);
    return async (header) => {
      const presented = bearerToken(header);
      if (presented === undefined) throw new TokenRejectedError(`send Authorization: Bearer <access token from ${oauth.issuer}>`);
      return verify(presented);
    };
  }
  if (!token) throw new Error('GATEWAY_AUTH=token needs a token');
  const check = createTokenChecker(token);
  const principal: Principal = { subject: subjectOfToken(token), scopes: [...ALL_SCOPES] };
  return (header) => {
    if (check(header)) return Promise.resolve(principal);
    return Promise.reject(
      new TokenRejectedError(header === undefined ? 'send Authorization: Bearer <token> (the token is in the gateway data dir; `npx homelab-mcp token` prints it)' : 'the bearer token is wrong'),
    );
  };
}

const CORS_HEADERS = 'authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id';

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(code: number, message: string): unknown {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

class BodyTooLargeError extends Error {}
/** The client went away (or was cut off by a deadline) before its body arrived: nobody is left to answer. */
class ClientGoneError extends Error {}

/** The first protocol revision without JSON-RPC batches (modelcontextprotocol PR #416). */
const BATCHES_REMOVED_IN = '2025-06-18';

/** The version a session settles on, as the SDK server negotiates it. */
function negotiatedVersion(initialize: unknown): string {
  const requested = (initialize as { params?: { protocolVersion?: unknown } }).params?.protocolVersion;
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}

/** The tools/call messages of a body (one message or a batch), for the audit of refused requests. */
function toolCalls(messages: readonly unknown[]): { name: unknown; arguments: unknown }[] {
  return messages.flatMap((m) => {
    if (!m || typeof m !== 'object' || (m as { method?: unknown }).method !== 'tools/call') return [];
    const params = (m as { params?: { name?: unknown; arguments?: unknown } }).params;
    return [{ name: params?.name, arguments: params?.arguments }];
  });
}

/** A tools/call whose `arguments` is not an object of named arguments, with the answer it deserves. */
function malformedToolCall(body: unknown): { id: unknown; message: string } | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const { method, params, id } = body as { method?: unknown; params?: { name?: unknown; arguments?: unknown }; id?: unknown };
  if (method !== 'tools/call' || id === undefined || !params || typeof params !== 'object') return undefined;
  const args = params.arguments;
  if (args === undefined || (args !== null && typeof args === 'object' && !Array.isArray(args))) return undefined;
  const got = args === null ? 'null' : Array.isArray(args) ? 'an array' : `a ${typeof args}`;
  const tool = typeof params.name === 'string' ? ` for ${params.name}` : '';
  return { id, message: `Invalid arguments${tool}: (arguments): must be an object of named arguments, such as {"service": "gitea"}, not ${got}` };
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(new ClientGoneError()));
    req.on('close', () => {
      if (!req.complete) reject(new ClientGoneError());
    });
  });
}

/**
 * Works around typescript-sdk issue #2559: with enableJsonResponse a stateful
 * transport keeps one stream mapping per answered POST for the life of the
 * session. Drops the mappings whose requests are all answered.
 */
function releaseAnsweredJsonStreams(transport: StreamableHTTPServerTransport): void {
  const inner = (transport as unknown as { _webStandardTransport?: { _streamMapping?: Map<string, { resolveJson?: unknown }>; _requestToStreamMapping?: Map<unknown, string> } })._webStandardTransport;
  const streams = inner?._streamMapping;
  const requests = inner?._requestToStreamMapping;
  if (!streams || !requests) return;
  const live = new Set(requests.values());
  for (const [id, stream] of streams) if (stream.resolveJson && !live.has(id)) streams.delete(id);
}

/**
 * The gateway's HTTP face: /mcp (streamable HTTP, sessions or stateless),
 * /healthz and /metrics, behind Host/Origin checks, the bearer token and a
 * body limit.
 */
export async function startMcpHttpServer(deps: HttpDeps): Promise<McpHttpServer> {
  const { config, logger, metrics } = deps;
  const authenticate = createAuthenticator(config, deps.token);
  const limits = new SubjectLimits(config.limits);
  const sessions = new Map<string, Session>();
  const allowedHosts = new Set<string>();
  const allowedOrigins = new Set<string>();

  const { headersMs, bodyMs } = config.requestDeadlines;
  const answering = new WeakMap<Socket | Duplex, ServerResponse>();
  // Node bounds the time to receive a request (headers, then the whole body) and answers 408;
  // the answer itself (an SSE stream, a long tool call) is not bound by it.
  const http: HttpServer = createServer(
    { headersTimeout: headersMs, requestTimeout: bodyMs, connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersMs / 4))) },
    (req, res) => {
      answering.set(req.socket, res);
      handle(req, res).catch((err: unknown) => {
        if (err instanceof ClientGoneError) return;
        logger.error({ err }, 'request failed');
        sendJson(res, 500, rpcError(-32603, 'Internal error'));
      });
    },
  );
  // With a listener Node leaves every client error to it; the 408 says which deadline was missed.
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const answered = answering.get(socket)?.headersSent === true;
    if (socket.writable && !answered) {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        logger.info({ remote: (socket as Socket).remoteAddress }, 'request not received within its deadline: 408, connection closed');
        const body = JSON.stringify(
          rpcError(-32000, `Request Timeout: send the headers within ${headersMs} ms (GATEWAY_HEADERS_TIMEOUT_MS) and the whole request within ${bodyMs} ms (GATEWAY_BODY_TIMEOUT_MS)`),
        );
        socket.write(`HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      } else if (err.code === 'HPE_HEADER_OVERFLOW') {
        socket.write('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n');
      } else if (err.code !== 'ECONNRESET' && err.code !== 'HPE_INVALID_EOF_STATE') {
        socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      }
    }
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.listen.port, config.listen.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  for (const h of ['127.0.0.1', 'localhost', '[::1]']) {
    allowedHosts.add(`${h}:${port}`);
    allowedOrigins.add(`http://${h}:${port}`);
  }
  const listenHost = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  if (!['0.0.0.0', '[::]'].includes(listenHost)) {
    allowedHosts.add(`${listenHost}:${port}`);
    allowedOrigins.add(`http://${listenHost}:${port}`);
  }
  if (config.publicUrl) {
    const u = new URL(config.publicUrl);
    allowedHosts.add(u.host);
    allowedOrigins.add(u.origin);
  }
  for (const h of config.allowedHosts) allowedHosts.add(h.toLowerCase());
  for (const o of config.allowedOrigins) allowedOrigins.add(o);
  const url = `http://${listenHost === '0.0.0.0' || listenHost === '[::]' ? '127.0.0.1' : listenHost}:${port}/mcp`;
  // The resource clients are granted access to, and its RFC 9728 metadata.
  const resource = new URL('/mcp', config.publicUrl ? `${config.publicUrl}/` : url);
  const metadataUrl = resourceMetadataUrl(resource);
  const metadataPaths = new Set([new URL(metadataUrl).pathname, '/.well-known/oauth-protected-resource']);
  const challenge = (extra: string) =>
    `Bearer realm="homelab-mcp"${config.auth.mode === 'oauth' ? `, resource_metadata="${metadataUrl}", scope="${ALL_SCOPES.join(' ')}"` : ''}${extra}`;

  const sweeper = setInterval(() => evictIdle(), Math.max(1000, Math.min(config.sessions.idleMs / 4, 60_000)));
  sweeper.unref();

  function evictIdle(): void {
    const cutoff = Date.now() - config.sessions.idleMs;
    for (const s of sessions.values()) {
      if (s.inflight === 0 && s.lastSeen < cutoff) {
        logger.info({ session: s.id }, 'closing idle session');
        void closeSession(s);
      }
    }
  }

  async function closeSession(s: Session): Promise<void> {
    sessions.delete(s.id);
    metrics.sessions.set(sessions.size);
    await s.transport.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  }

  /** Sessions being initialized right now, per subject: they count against the caps before they are registered. */
  const opening = new Map<string, number>();
  let openingTotal = 0;

  /** Seconds until the first of these sessions can be closed for idling. */
  function untilIdle(list: readonly Session[]): number {
    const first = Math.min(...list.map((s) => s.lastSeen));
    return Math.max(1, Math.ceil((first + config.sessions.idleMs - Date.now()) / 1000));
  }

  /**
   * Room for one more session of this subject, or why not. A subject at its
   * own cap is refused; at the global cap it may give up its own least
   * recently used idle session, never another subject's.
   */
  function admitSession(subject: string): { status: number; message: string; retryAfterSeconds: number } | undefined {
    const own = [...sessions.values()].filter((s) => s.subject === subject);
    const ownCount = own.length + (opening.get(subject) ?? 0);
    const { max, maxPerSubject } = config.sessions;
    if (maxPerSubject > 0 && ownCount >= maxPerSubject) {
      return {
        status: 429,
        message: `Too Many Requests: this caller already holds ${ownCount} sessions, its maximum (GATEWAY_MAX_SESSIONS_PER_SUBJECT=${maxPerSubject}); end the sessions it no longer uses (DELETE with their Mcp-Session-Id) or wait until one idles out`,
        retryAfterSeconds: own.length ? untilIdle(own) : 1,
      };
    }
    if (sessions.size + openingTotal < max) return undefined;
    let oldest: Session | undefined;
    for (const s of own) if (s.inflight === 0 && (!oldest || s.lastSeen < oldest.lastSeen)) oldest = s;
    if (oldest) {
      logger.info({ session: oldest.id, subject }, 'session cap reached: closing this caller\'s least recently used session');
      void closeSession(oldest);
      return undefined;
    }
    return {
      status: 503,
      message: `Service Unavailable: the gateway holds its maximum of ${max} sessions (GATEWAY_MAX_SESSIONS) and none of them is this caller's to close; retry later`,
      retryAfterSeconds: sessions.size ? untilIdle([...sessions.values()]) : 1,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(host)) {
      sendJson(res, 403, rpcError(-32000, `Forbidden: Host "${host}" is not one of this gateway's names; add it to GATEWAY_ALLOWED_HOSTS or GATEWAY_PUBLIC_URL`));
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      sendJson(res, 403, rpcError(-32000, `Forbidden: Origin "${origin}" is not allowed; add it to GATEWAY_ALLOWED_ORIGINS`));
      return;
    }
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'mcp-session-id, www-authenticate');
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, DELETE', 'access-control-allow-headers': CORS_HEADERS, 'access-control-max-age': '600' });
      res.end();
      return;
    }
    if (config.auth.mode === 'oauth' && metadataPaths.has(path) && req.method === 'GET') {
      sendJson(res, 200, {
        resource: resource.href,
        authorization_servers: [config.auth.oauth?.issuer],
        scopes_supported: [...ALL_SCOPES],
        bearer_methods_supported: ['header'],
        resource_name: 'homelab-mcp',
      });
      return;
    }
    if (path === '/healthz' && req.method === 'GET') {
      const body = deps.health();
      sendJson(res, 200, body);
      return;
    }
    if (path !== '/mcp' && path !== '/metrics') {
      sendJson(res, 404, { error: 'not found', endpoints: ['/mcp', '/healthz', '/metrics'] });
      return;
    }
    let principal: Principal;
    try {
      principal = await authenticate(req.headers.authorization);
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      if (err.status === 503) {
        sendJson(res, 503, rpcError(-32000, `Service Unavailable: ${err.message}`), { 'retry-after': '5' });
        return;
      }
      const given = req.headers.authorization !== undefined;
      const description = err.message.replace(/"/g, "'");
      sendJson(res, 401, rpcError(-32001, `Unauthorized: ${err.message}`), {
        'www-authenticate': challenge(given ? `, error="invalid_token", error_description="${description}"` : ''),
      });
      return;
    }
    if (principal.scopes.length === 0) {
      sendJson(res, 403, rpcError(-32001, `Forbidden: the access token grants none of ${ALL_SCOPES.join(', ')}; ask for a token with ${SCOPE_READ} (and homelab:write to change things)`), {
        'www-authenticate': challenge(`, error="insufficient_scope"`),
      });
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    await handleMcp(req, res, principal);
  }

  /** The body of a POST as JSON; undefined when it was answered here (too large, not JSON). */
  async function readJson(req: IncomingMessage, res: ServerResponse): Promise<{ value: unknown } | undefined> {
    const declared = Number(req.headers['content-length']);
    const tooLarge = () =>
      sendJson(res, 413, rpcError(-32000, `Payload Too Large: request body must not exceed ${config.bodyLimitBytes} bytes (GATEWAY_BODY_LIMIT_BYTES)`), { connection: 'close' });
    if (Number.isFinite(declared) && declared > config.bodyLimitBytes) {
      tooLarge();
      return undefined;
    }
    let text: string;
    try {
      text = await readBody(req, config.bodyLimitBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      tooLarge();
      return undefined;
    }
    try {
      return { value: JSON.parse(text) };
    } catch {
      sendJson(res, 400, rpcError(-32700, 'Parse error: the body is not JSON'));
      return undefined;
    }
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    // The body is read before anything is counted: a client that is slow to send it holds no slot (the deadlines cut it off).
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readJson(req, res);
      if (!read) return;
      body = read.value;
    }
    const messages = req.method !== 'POST' ? [] : Array.isArray(body) ? (body as unknown[]) : [body];
    const refuse = (status: number, code: number, message: string, headers: Record<string, string> = {}) => {
      for (const call of toolCalls(messages)) deps.refusedCall?.(principal.subject, call.name, call.arguments, message);
      sendJson(res, status, rpcError(code, message), headers);
    };
    const sessionId = req.headers['mcp-session-id'];
    const session = typeof sessionId === 'string' && !config.sessions.stateless ? sessions.get(sessionId) : undefined;

    if (Array.isArray(body)) {
      const header = req.headers['mcp-protocol-version'];
      const version = session?.protocolVersion ?? (typeof header === 'string' ? header : DEFAULT_NEGOTIATED_PROTOCOL_VERSION);
      if (version >= BATCHES_REMOVED_IN) {
        refuse(400, -32600, `Invalid Request: JSON-RPC batches do not exist in protocol ${version} (removed in ${BATCHES_REMOVED_IN}); send one message per request`);
        return;
      }
      const oversized = limits.refuseOversized(body.length);
      if (oversized) {
        refuse(400, -32600, `Invalid Request: ${oversized}; split it`);
        return;
      }
    }
    // An open GET stream only listens: it is not rate limited or counted as in flight. Every message of a batch counts.
    if (req.method !== 'GET') {
      const admission = limits.admit(principal.subject, Math.max(1, messages.length));
      if (!admission.ok) {
        metrics.limited.inc();
        refuse(429, -32000, `Too Many Requests: ${admission.reason}; retry after ${admission.retryAfterSeconds} s`, { 'retry-after': String(admission.retryAfterSeconds) });
        return;
      }
      res.on('close', admission.release);
    }
    const malformed = malformedToolCall(body);
    if (malformed) {
      deps.refusedCall?.(principal.subject, (body as { params: { name?: unknown } }).params.name, (body as { params: { arguments?: unknown } }).params.arguments, malformed.message);
      // The SDK would answer this with an internal error and a schema dump; say what is wrong instead.
      sendJson(res, 200, { jsonrpc: '2.0', id: malformed.id, error: { code: -32602, message: malformed.message, data: { violations: [{ path: '(arguments)', message: malformed.message }] } } });
      return;
    }
    // The client's credential stays at the edge: handlers see who is calling and what they may do, never the token.
    const auth: AuthInfo = { token: 'redacted', clientId: principal.subject, scopes: principal.scopes, ...(principal.expiresAt ? { expiresAt: principal.expiresAt } : {}) };
    const authed = Object.assign(req, { auth });

    if (config.sessions.stateless) {
      if (req.method !== 'POST') {
        sendJson(res, 405, rpcError(-32000, 'Method not allowed: this gateway runs stateless; use POST'), { allow: 'POST' });
        return;
      }
      const server = deps.createServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: config.sessions.jsonResponse });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(authed, res, body);
      return;
    }

    if (typeof sessionId === 'string') {
      if (!session) {
        refuse(404, -32001, 'Session not found: initialize a new session');
        return;
      }
      if (session.subject !== principal.subject) {
        refuse(403, -32001, 'Forbidden: this session belongs to another caller; initialize your own session');
        return;
      }
      session.lastSeen = Date.now();
      // An open GET stream only listens; a session counts as busy while it has requests in flight.
      if (req.method !== 'GET') {
        session.inflight++;
        res.on('close', () => {
          session.inflight--;
          session.lastSeen = Date.now();
        });
      }
      await session.transport.handleRequest(authed, res, body);
      if (config.sessions.jsonResponse) releaseAnsweredJsonStreams(session.transport);
      return;
    }
    const initialize = req.method === 'POST' ? messages.find((m) => isInitializeRequest(m)) : undefined;
    if (!initialize) {
      refuse(400, -32000, 'Bad Request: Mcp-Session-Id header is required (initialize first)');
      return;
    }
    const refusal = admitSession(principal.subject);
    if (refusal) {
      sendJson(res, refusal.status, rpcError(-32000, refusal.message), { 'retry-after': String(refusal.retryAfterSeconds) });
      return;
    }
    const server = deps.createServer();
    const created: Session = {
      id: '',
      subject: principal.subject,
      server,
      transport: undefined as unknown as StreamableHTTPServerTransport,
      protocolVersion: negotiatedVersion(initialize),
      lastSeen: Date.now(),
      inflight: 1,
    };
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: config.sessions.jsonResponse,
      onsessioninitialized: (id) => {
        created.id = id;
        sessions.set(id, created);
        metrics.sessions.set(sessions.size);
      },
      onsessionclosed: (id) => {
        const s = sessions.get(id);
        if (s) void closeSession(s);
      },
    });
    created.transport = transport;
    transport.onclose = () => {
      if (created.id && sessions.get(created.id) === created) {
        sessions.delete(created.id);
        metrics.sessions.set(sessions.size);
      }
    };
    res.on('close', () => {
      created.inflight--;
      created.lastSeen = Date.now();
    });
    opening.set(principal.subject, (opening.get(principal.subject) ?? 0) + 1);
    openingTotal++;
    try {
      await server.connect(transport);
      await transport.handleRequest(authed, res, body);
    } finally {
      const left = (opening.get(principal.subject) ?? 1) - 1;
      if (left > 0) opening.set(principal.subject, left);
      else opening.delete(principal.subject);
      openingTotal--;
    }
  }

  return {
    port,
    url,
    servers: () => [...sessions.values()].map((s) => s.server),
    sessionCount: () => sessions.size,
    close: async () => {
      clearInterval(sweeper);
      limits.close();
      await Promise.all([...sessions.values()].map((s) => closeSession(s)));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
