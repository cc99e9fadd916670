import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { InvalidArgumentsError, Violation } from '../schema/index.js';

/** `_meta` key a client may set to ask for a longer or shorter deadline (still capped by the tool). */
export const TIMEOUT_META_KEY = 'homelab-mcp/timeoutMs';
/** `_meta` key of a failed result that carries the decoded gRPC status. */
export const ERROR_META_KEY = 'homelab-mcp/error';
/** `_meta` key of a plan the user was asked to confirm and did not. */
export const CONFIRMATION_META_KEY = 'homelab-mcp/confirmation';

/** A tool error in words, with the failure as data in `_meta`. */
export function errorResult(text: string, error?: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], ...(error ? { _meta: { [ERROR_META_KEY]: error } } : {}) };
}

/**
 * A JSON-RPC error whose message is only what it says: the SDK's McpError
 * puts "MCP error <code>: " in front, which the client's McpError adds again.
 */
export class ProtocolError extends McpError {
  constructor(code: number, message: string, data?: unknown) {
    super(code, message, data);
    this.message = message;
  }
}

function violationLine(v: Violation): string {
  const example = v.example === undefined ? '' : ` (e.g. ${JSON.stringify(v.example)})`;
  return `- ${v.path || '(arguments)'}: ${v.message}${example}`;
}

/**
 * Arguments that do not fit a tool's schema, as a tool error the model reads
 * and can correct (protocol 2025-11-25): every violation by field, what was
 * wrong, and a value that would fit.
 */
export function invalidArgumentsResult(tool: string, err: InvalidArgumentsError): CallToolResult {
  const text = [`Invalid arguments for ${tool}:`, ...err.violations.map(violationLine), `Fix these and call ${tool} again; its inputSchema describes every field.`].join('\n');
  return errorResult(text, { code: 'INVALID_ARGUMENT', violations: err.violations });
}
