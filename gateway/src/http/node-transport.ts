import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { MAX_BATCH_SIZE } from '@modelcontextprotocol/sdk/server/requestBody.js';
import { armSseKeepAlive, DEFAULT_SSE_KEEP_ALIVE_MS } from '@modelcontextprotocol/sdk/server/sseKeepAlive.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializeRequest,
  isJSONRPCRequest,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { isOwnResponse, plainShapeOf } from './jsonrpc-shape.js';
import { rpcError, sendJson } from './responses.js';

export interface NodeTransportOptions {
  /** Names a new session; without it the transport is stateless and serves one request. */
  sessionIdGenerator?: (() => string) | undefined;
  /** Answer requests with one JSON body instead of an SSE stream. */
  enableJsonResponse?: boolean;
  onsessioninitialized?: (sessionId: string) => void;
  onsessionclosed?: (sessionId: string) => void;
}

/** Where the answers to one POST (or the session's GET stream) go. */
interface Stream {
  res: ServerResponse;
  /** SSE: events are written as they come; JSON: one body once every request of the POST is answered. */
  sse: boolean;
  /** The request ids of the POST, in order; answers wait in `answers` until all are there. */
  ids: RequestId[];
  answers: Map<RequestId, JSONRPCMessage>;
  keepAlive?: NodeJS.Timeout | undefined;
  flush?: NodeJS.Timeout | undefined;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' } as const;
const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const STANDALONE = Symbol('standalone SSE stream');
/** SSE headers go out with the first event; a POST still unanswered after this long gets them on their own. */
const HEADERS_FLUSH_MS = 25;

function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** A message of the plain shape is taken as it is; anything else the SDK's schema judges (and throws on). */
function parseMessage(value: unknown): JSONRPCMessage {
  return plainShapeOf(value) ? (value as JSONRPCMessage) : JSONRPCMessageSchema.parse(value);
}

function isRequest(message: JSONRPCMessage): message is JSONRPCMessage & { id: RequestId } {
  return plainShapeOf(message) === 'request' || isJSONRPCRequest(message);
}

/**
 * The MCP streamable HTTP transport (protocol 2025-11-25 and older) on
 * node:http, for the SDK's `Server`: the same answers, status codes and
 * session rules as the SDK's StreamableHTTPServerTransport without an event
 * store, without turning each request into a web Request and each answer into
 * a web Response and stream first. Answers are written straight to the
 * ServerResponse; a stream's bookkeeping is dropped as soon as it is answered
 * or its client goes away.
 */
export class NodeStreamableHttpTransport implements Transport {
  sessionId?: string | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage, extra?: MessageExtraInfo) => void) | undefined;

  private started = false;
  private handled = false;
  private initialized = false;
  private closed = false;
  private readonly streams = new Map<string | typeof STANDALONE, Stream>();
  private readonly streamOfRequest = new Map<RequestId, string>();

  constructor(private readonly options: NodeTransportOptions = {}) {}

  async start(): Promise<void> {
    if (this.started) throw new Error('Transport already started');
    this.started = true;
  }

  /** Serves one HTTP request of this session; a POST's body comes parsed. */
  async handleRequest(req: IncomingMessage, res: ServerResponse, parsedBody: unknown, authInfo?: AuthInfo): Promise<void> {
    if (this.closed) return this.refuse(res, 404, -32001, 'Session not found');
    if (!this.options.sessionIdGenerator && this.handled) throw new Error('Stateless transport cannot be reused across requests. Create a new transport per request.');
    this.handled = true;
    switch (req.method) {
      case 'POST':
        return this.handlePost(req, res, parsedBody, authInfo);
      case 'GET':
        return this.handleGet(req, res);
      case 'DELETE':
        return this.handleDelete(req, res);
      default:
        return this.refuse(res, 405, -32000, 'Method not allowed.', { allow: 'GET, POST, DELETE' });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams.values()) this.finish(stream);
    this.streams.clear();
    this.streamOfRequest.clear();
    this.onclose?.();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const response = isOwnResponse(message);
    const requestId = response ? (message as { id: RequestId }).id : options?.relatedRequestId;
    if (requestId === undefined) {
      if (response) throw new Error('Cannot send a response on a standalone SSE stream unless resuming a previous client request');
      const standalone = this.streams.get(STANDALONE);
      if (standalone) standalone.res.write(sseEvent(message));
      return;
    }
    const streamId = this.streamOfRequest.get(requestId);
    const stream = streamId === undefined ? undefined : this.streams.get(streamId);
    if (!stream) {
      if (this.closed) return;
      // The client went away before its answer: the SDK's transport says so too.
      this.streamOfRequest.delete(requestId);
      throw new Error(`No connection established for request ID: ${String(requestId)}`);
    }
    if (!response) {
      if (stream.sse) stream.res.write(sseEvent(message));
      return;
    }
    stream.answers.set(requestId, message);
    const complete = stream.answers.size >= stream.ids.length;
    if (stream.sse) {
      // The last answer ends the stream in the same write: a quick answer goes out as one packet, headers and all.
      if (complete) stream.res.end(sseEvent(message));
      else stream.res.write(sseEvent(message));
    } else if (complete) {
      const body = stream.ids.length === 1 ? stream.answers.get(stream.ids[0]!) : stream.ids.map((id) => stream.answers.get(id));
      stream.res.writeHead(200, this.headers(JSON_HEADERS));
      stream.res.end(JSON.stringify(body));
    }
    if (complete) this.drop(streamId!, stream);
  }

  private async handlePost(req: IncomingMessage, res: ServerResponse, body: unknown, authInfo: AuthInfo | undefined): Promise<void> {
    const accept = req.headers.accept;
    if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return this.refuse(res, 406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
    if (!isJsonContentType(req.headers['content-type'])) return this.refuse(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    if (Array.isArray(body) && body.length > MAX_BATCH_SIZE) return this.refuse(res, 400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
    let messages: JSONRPCMessage[];
    try {
      messages = Array.isArray(body) ? body.map(parseMessage) : [parseMessage(body)];
    } catch {
      return this.refuse(res, 400, -32700, 'Parse error: Invalid JSON-RPC message');
    }
    const initialize = messages.find((m) => (m as { method?: unknown }).method === 'initialize' && isInitializeRequest(m));
    if (initialize) {
      if (this.initialized && this.sessionId !== undefined) return this.refuse(res, 400, -32600, 'Invalid Request: Server already initialized');
      if (messages.length > 1) return this.refuse(res, 400, -32600, 'Invalid Request: Only one initialization request is allowed');
      this.sessionId = this.options.sessionIdGenerator?.();
      this.initialized = true;
      if (this.sessionId) this.options.onsessioninitialized?.(this.sessionId);
    } else if (!this.admitted(req, res)) {
      return;
    }
    if (this.closed) return this.refuse(res, 404, -32001, 'Session not found');
    const extra: MessageExtraInfo = { requestInfo: { headers: req.headers }, ...(authInfo ? { authInfo } : {}) };
    const ids = messages.filter(isRequest).map((m) => m.id);
    if (ids.length === 0) {
      for (const message of messages) this.onmessage?.(message, extra);
      res.writeHead(202).end();
      return;
    }
    const streamId = randomUUID();
    const sse = !this.options.enableJsonResponse;
    const stream: Stream = { res, sse, ids, answers: new Map() };
    this.streams.set(streamId, stream);
    for (const id of ids) this.streamOfRequest.set(id, streamId);
    res.on('close', () => this.drop(streamId, stream));
    if (sse) res.writeHead(200, this.headers(SSE_HEADERS));
    for (const message of messages) this.onmessage?.(message, extra);
    if (sse && this.streams.get(streamId) === stream) {
      stream.flush = setTimeout(() => {
        if (!res.headersSent && !res.writableEnded) res.flushHeaders();
      }, HEADERS_FLUSH_MS);
      stream.flush.unref();
      this.armKeepAlive(stream);
    }
  }

  private async handleGet(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!req.headers.accept?.includes('text/event-stream')) return this.refuse(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    if (!this.admitted(req, res)) return;
    if (this.streams.has(STANDALONE)) return this.refuse(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
    const stream: Stream = { res, sse: true, ids: [], answers: new Map() };
    this.streams.set(STANDALONE, stream);
    res.on('close', () => this.drop(STANDALONE, stream));
    res.writeHead(200, this.headers(SSE_HEADERS));
    res.flushHeaders();
    this.armKeepAlive(stream);
  }

  private async handleDelete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.admitted(req, res)) return;
    try {
      if (this.sessionId !== undefined) this.options.onsessionclosed?.(this.sessionId);
      res.writeHead(200).end();
    } finally {
      await this.close();
    }
  }

  /** The session header names this session, and the protocol version header one this SDK speaks. */
  private admitted(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.options.sessionIdGenerator !== undefined) {
      if (!this.initialized) {
        this.refuse(res, 400, -32000, 'Bad Request: Server not initialized');
        return false;
      }
      const id = req.headers['mcp-session-id'];
      if (!id) {
        this.refuse(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
        return false;
      }
      if (id !== this.sessionId) {
        this.refuse(res, 404, -32001, 'Session not found');
        return false;
      }
    }
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version))) {
      this.refuse(res, 400, -32000, `Bad Request: Unsupported protocol version: ${String(version)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
      return false;
    }
    return true;
  }

  /** The session's headers for each kind of answer, made once per session. */
  private readonly sessionHeaders = new Map<OutgoingHttpHeaders, OutgoingHttpHeaders>();

  private headers(base: OutgoingHttpHeaders): OutgoingHttpHeaders {
    if (this.sessionId === undefined) return base;
    let headers = this.sessionHeaders.get(base);
    if (!headers) this.sessionHeaders.set(base, (headers = { ...base, 'mcp-session-id': this.sessionId }));
    return headers;
  }

  private armKeepAlive(stream: Stream): void {
    stream.keepAlive = armSseKeepAlive(DEFAULT_SSE_KEEP_ALIVE_MS, () => stream.res.write(': keepalive\n\n'));
  }

  /** Forgets a stream that is answered or whose client left; its requests' late answers are dropped. */
  private drop(streamId: string | typeof STANDALONE, stream: Stream): void {
    if (this.streams.get(streamId) !== stream) return;
    this.streams.delete(streamId);
    for (const id of stream.ids) if (this.streamOfRequest.get(id) === streamId) this.streamOfRequest.delete(id);
    this.finish(stream);
  }

  private finish(stream: Stream): void {
    clearInterval(stream.keepAlive);
    clearTimeout(stream.flush);
    if (stream.res.writableEnded) return;
    if (!stream.sse && !stream.res.headersSent) {
      this.refuse(stream.res, 404, -32001, 'Session not found');
      return;
    }
    stream.res.end();
  }

  private refuse(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
    this.onerror?.(new Error(message));
    sendJson(res, status, rpcError(code, message), headers);
  }
}
