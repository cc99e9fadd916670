import { describe, expect, it } from '@jest/globals';
import { JSONRPCNotificationSchema, JSONRPCRequestSchema, RELATED_TASK_META_KEY } from '@modelcontextprotocol/sdk/types.js';
import { plainShapeOf } from '../src/http/jsonrpc-shape.js';

// The gateway takes messages of a plain shape without the SDK's schema checks.
// That is safe only if every message it takes that way is one the SDK's schema
// accepts, unchanged, as the same kind; everything else must fall through to
// the schema. The messages below are what clients send, and what they get wrong.

const call = (params: unknown) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params });

const TAKEN_PLAIN: [string, unknown, 'request' | 'notification'][] = [
  ['tools/call', call({ name: 'get_routes', arguments: { host: 'a.example' } }), 'request'],
  ['tools/call with a progress token', call({ name: 'get_routes', arguments: {}, _meta: { progressToken: 'p-1' } }), 'request'],
  ['tools/call with a numeric progress token and other _meta', call({ name: 'x', _meta: { progressToken: 3, 'example.com/trace': 'abc' } }), 'request'],
  ['a string id', { jsonrpc: '2.0', id: 'req-1', method: 'ping' }, 'request'],
  ['tools/call whose params the handler refuses', call({ arguments: [] }), 'request'],
  ['notifications/cancelled', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'user' } }, 'notification'],
  ['notifications/initialized', { jsonrpc: '2.0', method: 'notifications/initialized' }, 'notification'],
];

const LEFT_TO_THE_SCHEMA: [string, unknown][] = [
  ['a response', { jsonrpc: '2.0', id: 1, result: {} }],
  ['an error response', { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'no' } }],
  ['JSON-RPC 1.0', { jsonrpc: '1.0', id: 1, method: 'ping' }],
  ['no version', { id: 1, method: 'ping' }],
  ['a method that is not a string', { jsonrpc: '2.0', id: 1, method: 5 }],
  ['a fractional id', { jsonrpc: '2.0', id: 1.5, method: 'ping' }],
  ['an unsafe integer id', { jsonrpc: '2.0', id: 2 ** 60, method: 'ping' }],
  ['a null id', { jsonrpc: '2.0', id: null, method: 'ping' }],
  ['an object id', { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }],
  ['an unknown key', { jsonrpc: '2.0', id: 1, method: 'ping', extra: true }],
  ['params as an array', { jsonrpc: '2.0', id: 1, method: 'ping', params: [1] }],
  ['params null', { jsonrpc: '2.0', id: 1, method: 'ping', params: null }],
  ['_meta as a string', call({ name: 'x', _meta: 'm' })],
  ['a fractional progress token', call({ name: 'x', _meta: { progressToken: 0.5 } })],
  ['an object progress token', call({ name: 'x', _meta: { progressToken: {} } })],
  ['a related task', call({ name: 'x', _meta: { [RELATED_TASK_META_KEY]: { taskId: 't' } } })],
  ['a batch', [{ jsonrpc: '2.0', id: 1, method: 'ping' }]],
  ['null', null],
  ['a string', 'ping'],
  ['a __proto__ key', JSON.parse('{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{"x":1}}') as unknown],
];

describe('plain JSON-RPC shapes', () => {
  it.each(TAKEN_PLAIN)('takes %s as it is, and the SDK schema agrees', (_label, message, kind) => {
    expect(plainShapeOf(message)).toBe(kind);
    const schema = kind === 'request' ? JSONRPCRequestSchema : JSONRPCNotificationSchema;
    const parsed = schema.safeParse(message);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual(message);
  });

  it.each(LEFT_TO_THE_SCHEMA)('leaves %s to the SDK schema', (_label, message) => {
    expect(plainShapeOf(message)).toBeUndefined();
  });

});
