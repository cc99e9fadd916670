import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { CountResponse, EchoRequest, EchoResponse, Tree } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import { buildToolSpecs, decodeResponse, encodeRequest, mergeResponses, summarizeResult, type ToolSpec } from '../src/schema/index.js';

const descriptorSet = readFileSync(fileURLToPath(new URL('../../proto/gen/descriptor.binpb', import.meta.url)));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const specs = buildToolSpecs(registry, 'homelab.testing.v1.KitchenSinkService');
const spec = (name: string): ToolSpec => specs.find((s) => s.name === name)!;
const echo = spec('echo');

type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;
// A separate validator, like an MCP client checking structuredContent against outputSchema.
const clientAjv = addFormats(new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true }));
const echoOutput = clientAjv.compile(echo.outputSchema);

/** arguments -> gateway encode -> shard (ts-proto) decode + re-encode as the response -> gateway decode. */
function throughShard(args: Record<string, unknown>) {
  const wire = encodeRequest(echo, args);
  const atShard = EchoRequest.decode(wire);
  const response = EchoResponse.encode({ echo: atShard }).finish();
  const json = decodeResponse(echo, response);
  return { atShard, json, echoed: json.echo as Record<string, unknown> };
}

function deepTree(depth: number): Record<string, unknown> {
  let node: Record<string, unknown> = { name: `n${depth}`, children: [] };
  for (let i = depth - 1; i >= 0; i--) node = { name: `n${i}`, children: [node] };
  return node;
}

const CASES: [string, Record<string, unknown>][] = [
  [
    '64-bit extremes and negative numbers',
    {
      f_string: 'x',
      f_int64: '-9223372036854775808',
      f_sint64: '9223372036854775807',
      f_sfixed64: '-1',
      f_uint64: '18446744073709551615',
      f_fixed64: '9007199254740993',
      f_int32: -2147483648,
      f_sint32: 2147483647,
      f_sfixed32: -3,
      f_uint32: 4294967295,
      f_fixed32: 7,
    },
  ],
  ['NaN and infinities', { f_string: 'x', f_double: 'NaN', f_float: '-Infinity', w_double: 'Infinity' }],
  ['exact floats and doubles', { f_string: 'x', f_double: 0.1, f_float: -1.375, w_double: -2.5e-300 }],
  ['bytes, empty and binary', { f_string: 'héllo ✓', f_bytes: 'AAEC/w==', w_bytes: '' }],
  ['enums by name', { f_string: 'x', f_enum: 'COLOR_GREEN', r_enum: ['COLOR_RED', 'COLOR_UNSPECIFIED', 'COLOR_GREEN'] }],
  ['maps with integer keys', { f_string: 'x', m_string_int: { a: 1, 'with space': -2 }, m_int_nested: { '-5': { label: 'neg', value: 0 }, '9223372036854775807': { label: 'max', value: 1 } } }],
  ['oneof, scalar member', { f_string: 'x', choice_a: '' }],
  ['oneof, message member', { f_string: 'x', choice_b: { label: 'b', value: 2 } }],
  ['explicit presence keeps a zero', { f_string: 'x', o_int32: 0 }],
  ['recursion 40 levels deep', { f_string: 'x', tree: deepTree(40) }],
  ['timestamps with nanos', { f_string: 'x', w_timestamp: '2026-11-24T12:00:00.123456789Z' }],
  ['timestamps at the ends of the range', { f_string: 'x', w_timestamp: '0001-01-01T00:00:00Z' }],
  ['durations, fractional and negative', { f_string: 'x', w_duration: '-0.000000001s' }],
  ['Struct, Value and ListValue with nulls', { f_string: 'x', w_struct: { a: [1, 'x', null, true], b: { c: null } }, w_value: null, w_list: [null, 1.5, 'two', { k: [] }] }],
  ['Value holding an object', { f_string: 'x', w_value: { nested: { list: [1, 2] } } }],
  ['wrappers, zero values present', { f_string: 'x', w_int64: '0', w_string: '', w_bool: false, w_uint32: 0, w_double: 0 }],
  ['field masks and empty messages', { f_string: 'x', w_mask: 'fString,fNested.label', w_empty: {} }],
  ['repeated and nested messages', { f_string: 'x', f_nested: { label: '', value: -1 }, r_nested: [{ label: 'a', value: 1 }, { label: 'b', value: 0 }], r_string: ['', 'z'] }],
];

describe('JSON -> protobuf -> JSON through a ts-proto shard', () => {
  it.each(CASES)('%s comes back exactly', (_name, args) => {
    const { echoed, json } = throughShard(args);
    for (const [k, v] of Object.entries(args)) expect({ field: k, value: echoed[k] }).toEqual({ field: k, value: v });
    expect({ valid: echoOutput(json), errors: echoOutput.errors ?? null }).toEqual({ valid: true, errors: null });
  });

  it('is wire-compatible with the generated code the shards use', () => {
    const { atShard } = throughShard({
      f_string: 'x',
      f_int64: '-9223372036854775808',
      f_uint64: '18446744073709551615',
      f_bytes: 'AAEC/w==',
      f_enum: 'COLOR_GREEN',
      f_float: 'Infinity',
      m_int_nested: { '-5': { label: 'neg' } },
      w_timestamp: '2026-11-24T12:00:00.5Z',
      w_duration: '3600.25s',
      w_int64: '42',
      w_value: null,
      choice_b: { label: 'b' },
      tree: deepTree(3),
    });
    expect(atShard.fInt64).toBe('-9223372036854775808');
    expect(atShard.fUint64).toBe('18446744073709551615');
    expect([...atShard.fBytes]).toEqual([0, 1, 2, 255]);
    expect(atShard.fEnum).toBe(2);
    expect(atShard.fFloat).toBe(Infinity);
    expect(atShard.mIntNested['-5']).toEqual({ label: 'neg', value: 0 });
    expect(atShard.wTimestamp).toEqual({ seconds: '1795521600', nanos: 500_000_000 });
    expect(atShard.wDuration).toEqual({ seconds: '3600', nanos: 250_000_000 });
    expect(atShard.wInt64).toBe('42');
    expect(atShard.wValue).toBeNull();
    expect(atShard.choiceB).toEqual({ label: 'b', value: 0 });
    expect(atShard.choiceA).toBeUndefined();
    expect(Tree.toJSON(atShard.tree!)).toMatchObject({ name: 'n0', children: [{ name: 'n1', children: [{ name: 'n2' }] }] });
  });

  it('normalizes equivalent inputs to the canonical proto3 JSON', () => {
    const { echoed } = throughShard({
      f_string: 'x',
      f_int64: -42, // a safe JSON integer is accepted for a 64-bit field
      f_uint64: 9007199254740991,
      f_bytes: 'a-_b', // URL-safe base64
      w_timestamp: '2026-11-24T14:00:00.5+02:00',
      w_duration: '1.5s',
    });
    expect(echoed).toMatchObject({ f_int64: '-42', f_uint64: '9007199254740991', f_bytes: 'a+/b', w_timestamp: '2026-11-24T12:00:00.500Z', w_duration: '1.500s' });
  });

  it('emits every implicit field with its zero value, and leaves unset optional ones out', () => {
    const { echoed, json } = throughShard({ f_string: 'x' });
    expect(echoed).toMatchObject({ f_int32: 0, f_int64: '0', f_bool: false, f_bytes: '', f_enum: 'COLOR_UNSPECIFIED', r_string: [], m_string_int: {} });
    for (const unset of ['o_int32', 'f_nested', 'choice_a', 'choice_b', 'w_timestamp', 'w_int64', 'w_value']) expect(echoed).not.toHaveProperty(unset);
    expect(echoOutput(json)).toBe(true);
    expect(decodeResponse(spec('fail'), new Uint8Array())).toEqual({});
  });
});

describe('server-stream results', () => {
  it('merge with protobuf semantics: repeated fields append, singular fields keep the last value', () => {
    const count = spec('count');
    const chunks = [1, 2, 3].map((n) => CountResponse.encode({ numbers: [n], last: n }).finish());
    const json = decodeResponse(count, mergeResponses(count, chunks));
    expect(json).toEqual({ numbers: [1, 2, 3], last: 3 });
  });

  it('merge maps key by key, nested messages field by field, and a later oneof member replaces an earlier one', () => {
    const base = { fString: 'x' };
    const chunks = [
      EchoResponse.encode({ echo: EchoRequest.fromPartial({ ...base, mStringInt: { a: 1, b: 2 }, choiceA: 'first', fNested: { label: 'kept', value: 0 } }) }).finish(),
      EchoResponse.encode({ echo: EchoRequest.fromPartial({ ...base, mStringInt: { a: 3 }, choiceB: { label: 'second', value: 0 }, fNested: { label: '', value: 9 } }) }).finish(),
    ];
    const echoed = decodeResponse(echo, mergeResponses(echo, chunks)).echo as Record<string, unknown>;
    expect(echoed.m_string_int).toEqual({ a: 3, b: 2 });
    expect(echoed.choice_b).toEqual({ label: 'second', value: 0 });
    expect(echoed).not.toHaveProperty('choice_a');
    expect(echoed.f_nested).toEqual({ label: 'kept', value: 9 });
  });

  it('merges an empty stream into the empty message', () => {
    expect(decodeResponse(spec('count'), mergeResponses(spec('count'), []))).toEqual({ numbers: [], last: 0 });
  });
});

describe('text rendering of a result', () => {
  it('puts the message first and outlines the rest, leaving empty values out', () => {
    const text = summarizeResult(spec('change'), { message: 'Planned one change.', applied: false, value: '', plan: { id: 'p-1', diff: '--- a\n+++ b\n', changes: [{ path: 'x', kind: 'CHANGE_KIND_ADD' }] } });
    expect(text.split('\n')).toEqual(['Planned one change.', 'applied: false', 'plan:', '  id: p-1', '  diff: |', '    --- a', '    +++ b', '  changes (1):', '    - path: x', '      kind: CHANGE_KIND_ADD']);
  });

  it('stays short for huge results and says where the rest is', () => {
    const numbers = Array.from({ length: 100_000 }, (_, i) => i);
    const text = summarizeResult(spec('count'), { numbers, last: 99_999, blob: 'y'.repeat(50_000) });
    expect(text.length).toBeLessThan(10_000);
    expect(text).toContain('numbers (100000):');
    expect(text).toMatch(/more|structuredContent/);
  });
});
