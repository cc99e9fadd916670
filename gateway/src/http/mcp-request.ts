import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../trust/principal.js';
import { rpcError, sendJson } from './responses.js';

class BodyTooLargeError extends Error {}
/** The client went away (or was cut off by a deadline) before its body arrived: nobody is left to answer. */
export class ClientGoneError extends Error {}

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

/** The body of a POST as JSON; undefined when it was answered here (too large: 413, not JSON: 400). */
export async function readJson(req: IncomingMessage, res: ServerResponse, limit: number): Promise<{ value: unknown } | undefined> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => sendJson(res, 413, rpcError(-32000, `Payload Too Large: request body must not exceed ${limit} bytes (GATEWAY_BODY_LIMIT_BYTES)`), { connection: 'close' });
  if (Number.isFinite(declared) && declared > limit) {
    tooLarge();
    return undefined;
  }
  let text: string;
  try {
    text = await readBody(req, limit);
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

/** The tools/call messages of a body (one message or a batch), for the audit of refused requests. */
function toolCalls(messages: readonly unknown[]): { name: unknown; arguments: unknown }[] {
  return messages.flatMap((m) => {
    if (!m || typeof m !== 'object' || (m as { method?: unknown }).method !== 'tools/call') return [];
    const params = (m as { params?: { name?: unknown; arguments?: unknown } }).params;
    return [{ name: params?.name, arguments: params?.arguments }];
  });
}

/** Records a tools/call refused before it reached a tool (the audit keeps attempted writes). */
export type RefusedCall = (subject: string, tool: unknown, args: unknown, reason: string) => void;

/** One authenticated request to /mcp, its body read, on its way to a transport. */
export class McpRequest {
  /** The JSON-RPC messages of a POST (one, or a batch); none for GET and DELETE. */
  readonly messages: unknown[];
  /** The Mcp-Session-Id header, when the client sent one. */
  readonly sessionId: string | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly principal: Principal,
    readonly body: unknown,
    private readonly refusedCall: RefusedCall | undefined,
  ) {
    this.messages = req.method !== 'POST' ? [] : Array.isArray(body) ? (body as unknown[]) : [body];
    const id = req.headers['mcp-session-id'];
    this.sessionId = typeof id === 'string' ? id : undefined;
  }

  /** Records a tools/call of this request as refused before it reached the tool. */
  refuseCall(tool: unknown, args: unknown, reason: string): void {
    this.refusedCall?.(this.principal.subject, tool, args, reason);
  }

  /** Answers with an HTTP error; every tools/call in the body is recorded as refused, with the same words. */
  refuse(status: number, code: number, message: string, headers: Record<string, string> = {}): void {
    for (const call of toolCalls(this.messages)) this.refuseCall(call.name, call.arguments, message);
    sendJson(this.res, status, rpcError(code, message), headers);
  }
}
