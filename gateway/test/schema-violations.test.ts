import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { InvalidArgumentsError, buildToolSpecs, encodeRequest, type ToolSpec } from '../src/schema/index.js';

const descriptorSet = readFileSync(fileURLToPath(new URL('../../proto/gen/descriptor.binpb', import.meta.url)));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const specs = buildToolSpecs(registry, 'homelab.testing.v1.KitchenSinkService');
const echo = specs.find((s) => s.name === 'echo')!;

function violations(args: unknown, spec: ToolSpec = echo): { path: string; message: string }[] {
  try {
    encodeRequest(spec, args);
  } catch (err) {
    if (err instanceof InvalidArgumentsError) return err.violations;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(args)}`);
}

const ok = { f_string: 'x' };

describe('bad arguments become violations that name the field', () => {
  it.each<[string, unknown, { path: string; message: RegExp }]>([
    ['unknown field', { ...ok, colour: 'red' }, { path: 'colour', message: /unknown field/ }],
    ['camelCase spelling of a field', { ...ok, fInt32: 1 }, { path: 'fInt32', message: /unknown field.*snake_case/ }],
    ['unknown field in a nested message', { ...ok, f_nested: { label: 'a', nope: 1 } }, { path: 'f_nested.nope', message: /unknown field/ }],
    ['unknown field deep in a recursive message', { ...ok, tree: { children: [{ children: [{ nme: 'x' }] }] } }, { path: 'tree.children[0].children[0].nme', message: /unknown field/ }],
    ['missing required field', {}, { path: 'f_string', message: /^is required$/ }],
    ['empty required string', { f_string: '' }, { path: 'f_string', message: /^must not be empty$/ }],
    ['wrong type', { ...ok, f_int32: 'ten' }, { path: 'f_int32', message: /^must be an integer$/ }],
    ['wrong type in a list', { ...ok, r_string: ['a', 2] }, { path: 'r_string[1]', message: /must be a string/ }],
    ['fraction for an integer', { ...ok, f_uint32: 1.5 }, { path: 'f_uint32', message: /must be an integer/ }],
    ['null instead of leaving a field out', { ...ok, f_bool: null }, { path: 'f_bool', message: /true or false.*leave the field out/ }],
    ['32-bit integer out of range', { ...ok, f_int32: 2147483648 }, { path: 'f_int32', message: /^must be at most 2147483647$/ }],
    ['negative unsigned', { ...ok, f_uint32: -1 }, { path: 'f_uint32', message: /^must be at least 0$/ }],
    ['range from the field rules', { ...ok, f_ranged: 11 }, { path: 'f_ranged', message: /^must be at most 10$/ }],
    ['64-bit integer that is not a number', { ...ok, f_int64: '12abc' }, { path: 'f_int64', message: /64-bit integer written as a decimal string/ }],
    ['64-bit integer past its range', { ...ok, f_int64: '9223372036854775808' }, { path: 'f_int64', message: /between -9223372036854775808 and 9223372036854775807/ }],
    ['unsigned 64-bit integer past its range', { ...ok, f_fixed64: '18446744073709551616' }, { path: 'f_fixed64', message: /between 0 and 18446744073709551615/ }],
    ['64-bit JSON number beyond 2^53', { ...ok, f_int64: 2 ** 60 }, { path: 'f_int64', message: /at most 9007199254740991/ }],
    ['float past the 32-bit range', { ...ok, f_float: 1e39 }, { path: 'f_float', message: /at most 3.4028234663852886e\+38/ }],
    ['word instead of a number', { ...ok, f_double: 'lots' }, { path: 'f_double', message: /"NaN", "Infinity"/ }],
    ['bad enum name', { ...ok, f_enum: 'COLOR_BLUE' }, { path: 'f_enum', message: /must be one of "COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN"/ }],
    ['enum number instead of name', { ...ok, r_enum: [1] }, { path: 'r_enum[0]', message: /must be a string/ }],
    ['too many items', { ...ok, r_string: ['a', 'b', 'c', 'd', 'e', 'f'] }, { path: 'r_string', message: /^must have at most 5 items$/ }],
    ['string too long', { f_string: 'y'.repeat(101) }, { path: 'f_string', message: /^must have at most 100 characters$/ }],
    ['non-integer key in an integer-keyed map', { ...ok, m_int_nested: { abc: { label: 'x' } } }, { path: 'm_int_nested.abc', message: /not a valid key here: keys are integers written as strings/ }],
    ['integer map key past the 64-bit range', { ...ok, m_int_nested: { '99999999999999999999': {} } }, { path: 'm_int_nested[99999999999999999999]', message: /not a valid key: must be between -9223372036854775808 and 9223372036854775807/ }],
    ['wrong value type in a map', { ...ok, m_string_int: { a: 'one' } }, { path: 'm_string_int.a', message: /must be an integer/ }],
    ['bad base64', { ...ok, f_bytes: 'not base64!' }, { path: 'f_bytes', message: /base64/ }],
    ['timestamp without a time zone', { ...ok, w_timestamp: '2026-11-24T12:00:00' }, { path: 'w_timestamp', message: /RFC 3339/ }],
    ['timestamp outside the protobuf range', { ...ok, w_timestamp: '0000-12-31T00:00:00Z' }, { path: 'w_timestamp', message: /between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z/ }],
    ['duration without the unit', { ...ok, w_duration: '3600' }, { path: 'w_duration', message: /"3600s"/ }],
    ['duration past its range', { ...ok, w_duration: '999999999999s' }, { path: 'w_duration', message: /315576000000s/ }],
    ['field mask in snake_case', { ...ok, w_mask: 'f_string' }, { path: 'w_mask', message: /lowerCamelCase/ }],
    ['Struct that is not an object', { ...ok, w_struct: [1] }, { path: 'w_struct', message: /must be an object/ }],
    ['Empty with content', { ...ok, w_empty: { a: 1 } }, { path: 'w_empty.a', message: /unknown field/ }],
    ['wrapper of the wrong type', { ...ok, w_bool: 'yes' }, { path: 'w_bool', message: /true or false or null/ }],
    ['arguments that are not an object', 'f_string=x', { path: '', message: /must be an object/ }],
  ])('%s', (_name, args, expected) => {
    const [first] = violations(args);
    expect(first?.path).toBe(expected.path);
    expect(first?.message).toMatch(expected.message);
  });

  it('names both members when two of a oneof are set, once', () => {
    const v = violations({ ...ok, choice_a: 'a', choice_b: { label: 'b' } });
    expect(v).toHaveLength(1);
    expect(v[0]!.path).toMatch(/^choice_[ab]$/);
    expect(v[0]!.message).toMatch(/cannot be set together with choice_[ab].*alternatives/);
    expect(`${v[0]!.path} ${v[0]!.message}`).toContain('choice_a');
    expect(`${v[0]!.path} ${v[0]!.message}`).toContain('choice_b');
  });

  it('reports every problem at once, one line per field', () => {
    const v = violations({ f_int32: 'x', f_enum: 'NOPE', extra: 1, tree: { name: 5 } });
    expect(v.map((x) => x.path).sort()).toEqual(['extra', 'f_enum', 'f_int32', 'f_string', 'tree.name']);
  });

  it('says it in the error message too, with no stack-trace noise', () => {
    try {
      encodeRequest(echo, { ...ok, f_nested: { label: 7 } });
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidArgumentsError);
      expect((err as Error).message).toBe('f_nested.label: must be a string');
    }
  });

  it('accepts what the schema allows', () => {
    expect(() => encodeRequest(echo, { ...ok, f_int64: 42, w_int64: null, f_double: 'NaN', m_int_nested: { '-1': {} } })).not.toThrow();
    expect(() => encodeRequest(specs.find((s) => s.name === 'fail')!, undefined)).not.toThrow();
  });
});
