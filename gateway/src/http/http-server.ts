import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../mcp/metrics.js';
import { SubjectLimits } from '../trust/limits.js';
import type { Principal } from '../trust/principal.js';
import { admitRequest } from './admission.js';
import { authenticateRequest, createAuthenticator } from './authentication.js';
import { createHostGuard } from './host-guard.js';
import { ClientGoneError, McpRequest, readJson, type RefusedCall } from './mcp-request.js';
import { rpcError, sendJson } from './responses.js';
import { SessionRegistry } from './sessions.js';
import { openSession, serveSession, serveStateless } from './transport.js';
import { createWellKnown, loadMetadataUrlHelper } from './well-known.js';

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
  refusedCall?: RefusedCall;
  /** The console's pages and API under /console (they authenticate with a session cookie, not a bearer token). */
  console?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;
}

export interface McpHttpServer {
  port: number;
  url: string;
  /** Live session servers (notifications go to each). */
  servers(): Server[];
  sessionCount(): number;
  close(): Promise<void>;
}

/**
 * Node's HTTP server with the request deadlines: Node bounds the time to
 * receive a request (headers, then the whole body) and answers 408; the
 * answer itself (an SSE stream, a long tool call) is not bound by it.
 */
function createDeadlinedServer(config: GatewayConfig, logger: Logger, handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): HttpServer {
  const { headersMs, bodyMs } = config.requestDeadlines;
  const answering = new WeakMap<Socket | Duplex, ServerResponse>();
  const http = createServer({ headersTimeout: headersMs, requestTimeout: bodyMs, connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersMs / 4))) }, (req, res) => {
    answering.set(req.socket, res);
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ClientGoneError) return;
      logger.error({ err }, 'request failed');
      sendJson(res, 500, rpcError(-32603, 'Internal error'));
    });
  });
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
  return http;
}

interface McpEndpoint {
  config: GatewayConfig;
  limits: SubjectLimits;
  sessions: SessionRegistry;
  metrics: GatewayMetrics;
  createServer(): Server;
  refusedCall?: RefusedCall;
}

/** /mcp for an authenticated caller: the body within its limit, the caller within theirs, then the transport of its session. */
async function serveMcp(endpoint: McpEndpoint, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
  const { config, sessions } = endpoint;
  const { stateless, jsonResponse } = config.sessions;
  // The body is read before anything is counted: a client that is slow to send it holds no slot (the deadlines cut it off).
  let body: unknown;
  if (req.method === 'POST') {
    const read = await readJson(req, res, config.bodyLimitBytes);
    if (!read) return;
    body = read.value;
  }
  const request = new McpRequest(req, res, principal, body, endpoint.refusedCall);
  const session = request.sessionId !== undefined && !stateless ? sessions.get(request.sessionId) : undefined;
  if (!admitRequest(request, endpoint.limits, endpoint.metrics, session?.protocolVersion)) return;
  if (stateless) await serveStateless(request, endpoint.createServer, jsonResponse);
  else if (request.sessionId !== undefined) await serveSession(request, session);
  else await openSession(request, sessions, endpoint.createServer);
}

/**
 * The gateway's HTTP face: /mcp (streamable HTTP, sessions or stateless),
 * /healthz, /metrics and the OAuth resource metadata. Each request passes the
 * Host/Origin guard, then authentication, then (for /mcp) the body limit and
 * the caller's limits, before a transport sees it.
 */
export async function startMcpHttpServer(deps: HttpDeps): Promise<McpHttpServer> {
  const { config, logger, metrics } = deps;
  const authenticate = createAuthenticator(config, deps.token);
  const limits = new SubjectLimits(config.limits);
  const sessions = new SessionRegistry(config.sessions, metrics, logger);
  const metadataUrlOf = await loadMetadataUrlHelper(config);
  const endpoint: McpEndpoint = { config, limits, sessions, metrics, createServer: deps.createServer, ...(deps.refusedCall ? { refusedCall: deps.refusedCall } : {}) };

  const http = createDeadlinedServer(config, logger, async (req, res) => {
    if (!guard.admit(req, res)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (deps.console && (path === '/console' || path.startsWith('/console/'))) return deps.console(req, res, path);
    if (wellKnown.servePublic(path, req, res)) return;
    const principal = await authenticateRequest(req, res, authenticate, wellKnown.challenge);
    if (!principal) return;
    if (path === '/metrics') await wellKnown.serveMetrics(res);
    else await serveMcp(endpoint, req, res, principal);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.listen.port, config.listen.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  // Named once the port is known, before the first connection can be read.
  const guard = createHostGuard(config, port);
  const wellKnown = createWellKnown(config, guard.url, metadataUrlOf, metrics, deps.health);

  return {
    port,
    url: guard.url,
    servers: () => sessions.servers(),
    sessionCount: () => sessions.size,
    close: async () => {
      limits.close();
      await sessions.closeAll();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
