import { ErrorCode, McpError, type CallToolRequest } from '@modelcontextprotocol/sdk/types.js';
import { isPlainObject } from '../http/jsonrpc-shape.js';

/** What is wrong with a tools/call's arguments that are not an object of named arguments; undefined when they are one, or absent. */
export function malformedArguments(name: unknown, args: unknown): string | undefined {
  if (args === undefined || isPlainObject(args)) return undefined;
  const got = args === null ? 'null' : Array.isArray(args) ? 'an array' : `a ${typeof args}`;
  const tool = typeof name === 'string' ? ` for ${name}` : '';
  return `Invalid arguments${tool}: (arguments): must be an object of named arguments, such as {"service": "gitea"}, not ${got}`;
}

/** The params of a tools/call request, checked as the SDK's schema checks them; a misfit is invalid params, saying which part. */
export function toolCallRequest(request: { method: string; params?: unknown }): CallToolRequest {
  const { params } = request;
  const invalid = (what: string) => new McpError(ErrorCode.InvalidParams, `Invalid tools/call request: ${what}`);
  if (!isPlainObject(params)) throw invalid("params must be an object with the tool's name");
  if (typeof params.name !== 'string') throw invalid('params.name must be the name of a tool, as a string');
  const wrongArguments = malformedArguments(params.name, params.arguments);
  if (wrongArguments) throw new McpError(ErrorCode.InvalidParams, wrongArguments, { violations: [{ path: '(arguments)', message: wrongArguments }] });
  if (params._meta !== undefined && !isPlainObject(params._meta)) throw invalid('params._meta must be an object');
  return request as CallToolRequest;
}
