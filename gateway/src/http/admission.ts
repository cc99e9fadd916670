import { DEFAULT_NEGOTIATED_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { GatewayMetrics } from '../mcp/metrics.js';
import { malformedArguments } from '../mcp/tool-call-params.js';
import { isPlainObject } from './jsonrpc-shape.js';
import type { SubjectLimits } from '../trust/limits.js';
import type { McpRequest } from './mcp-request.js';
import { sendJson } from './responses.js';

/** The first protocol revision without JSON-RPC batches (modelcontextprotocol PR #416). */
const BATCHES_REMOVED_IN = '2025-06-18';

/** A tools/call whose `arguments` is not an object of named arguments, with the answer it deserves. */
function malformedToolCall(body: unknown): { id: unknown; name: unknown; arguments: unknown; message: string } | undefined {
  if (!isPlainObject(body)) return undefined;
  const { method, params, id } = body;
  if (method !== 'tools/call' || id === undefined || !isPlainObject(params)) return undefined;
  const message = malformedArguments(params.name, params.arguments);
  return message === undefined ? undefined : { id, name: params.name, arguments: params.arguments, message };
}

/**
 * Whether a request may go on to a transport: batches only where the
 * session's protocol has them and no larger than the limits, the caller
 * within its rate and in-flight cap (each message of a batch counts; an open
 * GET stream only listens and does not), and tools/call arguments that are an
 * object. False when the request was answered here.
 */
export function admitRequest(request: McpRequest, limits: SubjectLimits, metrics: GatewayMetrics, sessionVersion: string | undefined): boolean {
  const { req, res, body, messages } = request;
  if (Array.isArray(body)) {
    const header = req.headers['mcp-protocol-version'];
    const version = sessionVersion ?? (typeof header === 'string' ? header : DEFAULT_NEGOTIATED_PROTOCOL_VERSION);
    if (version >= BATCHES_REMOVED_IN) {
      request.refuse(400, -32600, `Invalid Request: JSON-RPC batches do not exist in protocol ${version} (removed in ${BATCHES_REMOVED_IN}); send one message per request`);
      return false;
    }
    const oversized = limits.refuseOversized(body.length);
    if (oversized) {
      request.refuse(400, -32600, `Invalid Request: ${oversized}; split it`);
      return false;
    }
  }
  if (req.method !== 'GET') {
    const admission = limits.admit(request.principal.subject, Math.max(1, messages.length));
    if (!admission.ok) {
      metrics.limited.inc();
      request.refuse(429, -32000, `Too Many Requests: ${admission.reason}; retry after ${admission.retryAfterSeconds} s`, { 'retry-after': String(admission.retryAfterSeconds) });
      return false;
    }
    res.on('close', admission.release);
  }
  const malformed = malformedToolCall(body);
  if (malformed) {
    // The SDK would answer this with an internal error and a schema dump; say what is wrong instead.
    request.refuseCall(malformed.name, malformed.arguments, malformed.message);
    sendJson(res, 200, { jsonrpc: '2.0', id: malformed.id, error: { code: -32602, message: malformed.message, data: { violations: [{ path: '(arguments)', message: malformed.message }] } } });
    return false;
  }
  return true;
}
