import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { InvalidArgumentsError } from '../schema/index.js';

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

/** The JSON-RPC answer to arguments that do not fit a tool's schema: every violation, by path. */
export function invalidParams(tool: string, err: InvalidArgumentsError): McpError {
  const list = err.violations.map((v) => `${v.path || '(arguments)'}: ${v.message}`).join('; ');
  return new McpError(ErrorCode.InvalidParams, `Invalid arguments for ${tool}: ${list}`, { violations: err.violations });
}
