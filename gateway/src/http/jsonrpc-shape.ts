import type { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { RELATED_TASK_META_KEY, type JSONRPCNotification, type JSONRPCRequest, type MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

/*
 * The SDK checks every message against its zod schemas several times on the
 * way in (the transport, the protocol's dispatch, the handler) and again on the
 * way out, and a zod check that fails (the dispatch tries "response" before
 * "request") costs more than one that passes. The gateway answers each message
 * with one plain check instead: the shapes below are a strict subset of what
 * the SDK's schemas accept, and anything else still goes through those schemas,
 * so what is accepted, and every error, stays the SDK's.
 */

const MESSAGE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): boolean {
  return typeof value === 'string' || Number.isSafeInteger(value);
}

/** Params the SDK's request and notification schemas accept: an object whose _meta, if any, carries a valid progress token and no task. */
function paramsFit(params: unknown): boolean {
  if (params === undefined) return true;
  if (!isPlainObject(params)) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!isPlainObject(meta) || RELATED_TASK_META_KEY in meta) return false;
  const token = meta.progressToken;
  return token === undefined || isRequestId(token);
}

/**
 * "request" or "notification" for a message of that plain shape, which the
 * SDK's JSON-RPC schema accepts as is; undefined for anything else (responses,
 * tasks, anything odd), which the SDK's schema has to judge.
 */
export function plainShapeOf(message: unknown): 'request' | 'notification' | undefined {
  if (!isPlainObject(message) || message.jsonrpc !== '2.0' || typeof message.method !== 'string') return undefined;
  for (const key of Object.keys(message)) if (!MESSAGE_KEYS.has(key)) return undefined;
  if (!paramsFit(message.params)) return undefined;
  if (!('id' in message)) return 'notification';
  return isRequestId(message.id) ? 'request' : undefined;
}

/** A response of this gateway's own making (the SDK sends them through the transport): it carries a result or an error. */
export function isOwnResponse(message: object): message is { id: string | number } {
  return 'result' in message || 'error' in message;
}

/** The SDK protocol's own dispatch steps, which its message handler calls after its schema checks. */
interface ProtocolSteps {
  _onrequest?: (request: JSONRPCRequest, extra?: MessageExtraInfo) => void;
  _onnotification?: (notification: JSONRPCNotification) => void;
}

/**
 * After `server.connect(transport)`: requests and notifications of the plain
 * shape go straight to the protocol's dispatch steps (cancellation, progress,
 * the answer, all still the SDK's); other messages take the SDK's own path. An
 * SDK without those steps keeps its path for everything.
 */
export function dispatchPlainMessages(server: Protocol<never, never, never> | object, transport: Transport): void {
  const steps = server as ProtocolSteps;
  const sdkDispatch = transport.onmessage;
  const onRequest = steps._onrequest;
  const onNotification = steps._onnotification;
  if (!sdkDispatch || typeof onRequest !== 'function' || typeof onNotification !== 'function') return;
  transport.onmessage = (message, extra) => {
    const shape = plainShapeOf(message);
    if (shape === 'request') onRequest.call(server, message as JSONRPCRequest, extra);
    else if (shape === 'notification') onNotification.call(server, message as JSONRPCNotification);
    else sdkDispatch(message, extra);
  };
}
