import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { EchoRequest } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import type { InvalidArgumentsError } from '../src/schema/index.js';
import { buildToolSpecs, decodeResponse, encodeRequest } from '../src/schema/index.js';

const descriptorSet = readFileSync(fileURLToPath(new URL('../../proto/gen/descriptor.binpb', import.meta.url)));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const golden = fileURLToPath(new URL('./golden/kitchen-sink.schema.json', import.meta.url));
const specs = buildToolSpecs(registry, 'homelab.testing.v1.KitchenSinkService');
const echo = specs.find((s) => s.name === 'echo')!;

describe('protobuf -> JSON Schema', () => {
  it('matches the reviewed golden file for every kitchen-sink RPC (UPDATE_GOLDEN=1 rewrites it)', () => {
    const actual = Object.fromEntries(specs.map((s) => [s.name, { title: s.title, description: s.description, annotations: s.annotations, streaming: s.streaming, inputSchema: s.inputSchema, outputSchema: s.outputSchema }]));
    const text = `${JSON.stringify(actual, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });

  it('produces valid JSON Schema 2020-12 (strict ajv compiles every schema)', () => {
    const ajv = new Ajv2020({ strict: false });
    for (const s of specs) {
      expect(() => ajv.compile(s.inputSchema)).not.toThrow();
      expect(() => ajv.compile(s.outputSchema)).not.toThrow();
    }
  });

  it('round-trips values exactly, and is wire-compatible with the ts-proto code', () => {
    const args = {
      f_double: -1.5, f_float: 'Infinity', f_int32: -2147483648, f_int64: '-9223372036854775808', f_uint32: 4294967295, f_uint64: '18446744073709551615',
      f_sint32: -7, f_sint64: '-9007199254740993', f_fixed32: 7, f_fixed64: '9007199254740993', f_sfixed32: -3, f_sfixed64: '-3', f_bool: true,
      f_string: 'héllo', f_bytes: 'AAEC/w==', f_enum: 'COLOR_GREEN', f_nested: { label: 'n', value: 3 }, r_string: ['a', 'b'], r_nested: [{ label: 'x', value: 1 }],
      r_enum: ['COLOR_RED', 'COLOR_GREEN'], m_string_int: { a: 1, b: -2 }, m_int_nested: { '-5': { label: 'neg', value: 0 } }, choice_b: { label: 'b', value: 2 }, o_int32: 0,
      tree: { name: 'root', children: [{ name: 'a', children: [{ name: 'deep', children: [] }] }] },
      w_timestamp: '2026-11-24T12:00:00.123456789Z', w_duration: '3600.500s', w_struct: { a: [1, 'x', null], b: { c: true } }, w_value: null, w_list: [1, 'two'],
      w_int64: '123', w_string: 'wrapped', w_bool: false, w_mask: 'fString,fNested.label', w_empty: {}, f_ranged: 10, w_double: 2.5, w_bytes: 'AQ==', w_uint32: 4,
    };
    const bytes = encodeRequest(echo, args);
    const decoded = EchoRequest.decode(bytes); // ts-proto, as the shard sees it
    expect(decoded.fInt64).toBe('-9223372036854775808');
    expect(decoded.fUint64).toBe('18446744073709551615');
    expect(decoded.mIntNested['-5']?.label).toBe('neg');
    const inner = EchoRequest.encode(decoded).finish();
    const response = new Uint8Array([0x0a, ...varint(inner.length), ...inner]); // EchoResponse { echo = 1 }
    const json = decodeResponse(echo, response) as { echo: Record<string, unknown> };
    for (const [k, v] of Object.entries(args)) expect({ k, v: json.echo[k] }).toEqual({ k, v });
  });

  it('names the field in every violation', () => {
    const bad = (args: unknown) => {
      try {
        encodeRequest(echo, args);
        return undefined;
      } catch (err) {
        return (err as InvalidArgumentsError).violations;
      }
    };
    expect(bad({})).toEqual([{ path: 'f_string', message: 'is required' }]);
    expect(bad({ f_string: 'x', fString: 'y' })?.[0]?.path).toBe('fString');
    expect(bad({ f_string: 'x', f_ranged: 11 })?.[0]?.path).toBe('f_ranged');
    expect(bad({ f_string: 'x', f_enum: 'COLOR_BLUE' })?.[0]?.path).toBe('f_enum');
    expect(bad({ f_string: 'x', choice_a: 'a', choice_b: {} })?.[0]?.message).toContain('oneof');
    expect(bad({ f_string: 'x', f_nested: { label: 5 } })?.[0]?.path).toBe('f_nested.label');
    expect(bad({ f_string: 'x', r_string: ['a', 'b', 'c', 'd', 'e', 'f'] })?.[0]?.path).toBe('r_string');
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
