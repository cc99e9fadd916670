import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { buildToolSpecs, type ToolSpec } from '../src/schema/index.js';

const descriptorSet = readFileSync(fileURLToPath(new URL('../../proto/gen/descriptor.binpb', import.meta.url)));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const golden = fileURLToPath(new URL('./golden/kitchen-sink.schema.json', import.meta.url));
const specs = buildToolSpecs(registry, 'homelab.testing.v1.KitchenSinkService');
const spec = (name: string): ToolSpec => specs.find((s) => s.name === name)!;

type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

/** Every schema object in a schema (properties, items, $defs, ...), with its location. */
function* walk(node: unknown, at = '#'): Generator<[string, Record<string, unknown>]> {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) yield* walk(n, `${at}/${i}`);
    return;
  }
  const obj = node as Record<string, unknown>;
  yield [at, obj];
  for (const [k, v] of Object.entries(obj)) if (k !== 'enum' && k !== 'examples' && k !== 'required') yield* walk(v, `${at}/${k}`);
}

describe('kitchen-sink contract -> MCP tools', () => {
  it('matches the reviewed golden file for every RPC (UPDATE_GOLDEN=1 rewrites it)', () => {
    const actual = Object.fromEntries(specs.map(({ method: _method, ...rest }) => [rest.name, rest]));
    const text = `${JSON.stringify(actual, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, text);
    expect(existsSync(golden) ? readFileSync(golden, 'utf8') : 'golden file missing: run with UPDATE_GOLDEN=1 and review it').toBe(text);
    expect(Object.keys(actual)).toEqual(['echo', 'count', 'fail', 'change']);
  });

  it('produces valid JSON Schema 2020-12: meta-schema valid, and a strict Ajv compiles every schema', () => {
    const ajv = addFormats(new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true }));
    for (const s of specs) {
      for (const schema of [s.inputSchema, s.outputSchema]) {
        expect({ tool: s.name, valid: ajv.validateSchema(schema), errors: ajv.errors ?? null }).toEqual({ tool: s.name, valid: true, errors: null });
        expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
        expect(schema.type).toBe('object');
        expect(() => ajv.compile(schema)).not.toThrow();
      }
    }
  });

  it('closes every message object and describes every property', () => {
    for (const s of specs) {
      for (const schema of [s.inputSchema, s.outputSchema]) {
        for (const [at, node] of walk(schema)) {
          if (node.properties && node.type === 'object' && !at.endsWith('/properties')) {
            const open = at.includes('w_struct') || at.includes('w_value') || at.includes('w_list');
            if (!open) expect({ at, additionalProperties: node.additionalProperties }).toEqual({ at, additionalProperties: false });
            for (const [name, prop] of Object.entries(node.properties as Record<string, { description?: string }>)) {
              expect({ at: `${at}/${name}`, described: typeof prop.description === 'string' && prop.description.length > 3 }).toEqual({ at: `${at}/${name}`, described: true });
            }
          }
        }
      }
    }
  });

  it('takes names, titles, descriptions, annotations and deadlines from the contract', () => {
    expect(spec('echo')).toMatchObject({
      title: 'Echo',
      description: 'Echo every field back unchanged.',
      annotations: { title: 'Echo', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      requiresConfirmation: false,
      streaming: false,
    });
    expect(spec('count')).toMatchObject({ streaming: true, timeoutMs: 20000 });
    expect(spec('count')).not.toHaveProperty('maxTimeoutMs');
    expect(spec('change')).toMatchObject({ requiresConfirmation: true, annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } });
    expect(spec('fail').title).toBeUndefined();
    expect(spec('count').description).toBe('Count from 1 to `count`, one message each `interval`.');
  });

  it('maps every protobuf type to the JSON it is exchanged as', () => {
    const p = spec('echo').inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(p.f_int32).toMatchObject({ type: 'integer', minimum: -2147483648, maximum: 2147483647 });
    expect(p.f_uint32).toMatchObject({ type: 'integer', minimum: 0, maximum: 4294967295 });
    expect(p.f_int64).toMatchObject({ type: ['string', 'integer'], pattern: '^-?[0-9]{1,19}$' });
    expect(p.f_bytes).toMatchObject({ type: 'string', contentEncoding: 'base64' });
    expect(p.f_enum).toMatchObject({ type: 'string', enum: ['COLOR_UNSPECIFIED', 'COLOR_RED', 'COLOR_GREEN'] });
    expect(p.f_enum?.description).toContain('COLOR_RED: Red.');
    expect(p.m_int_nested).toMatchObject({ type: 'object', propertyNames: { pattern: '^-?[0-9]+$' }, additionalProperties: { $ref: '#/$defs/homelab.testing.v1.Nested' } });
    expect(p.tree).toMatchObject({ $ref: '#/$defs/homelab.testing.v1.Tree' });
    expect(p.w_timestamp).toMatchObject({ type: 'string', format: 'date-time' });
    expect(p.w_duration?.description).toContain('"3600s"');
    expect(p.w_int64).toMatchObject({ type: ['string', 'integer', 'null'] });
    expect(p.w_empty).toMatchObject({ type: 'object', properties: {}, additionalProperties: false });
    expect(p.choice_a?.description).toContain('Set at most one of: choice_a, choice_b.');
    expect(p.f_string).toMatchObject({ minLength: 1, maxLength: 100 });
    expect(p.r_string).toMatchObject({ maxItems: 5 });
    expect(spec('echo').inputSchema.required).toEqual(['f_string']);
    // Output: what decodeResponse emits; 64-bit only as strings, no input rules.
    const out = ((spec('echo').outputSchema.$defs as Record<string, { properties: Record<string, Record<string, unknown>> }>)['homelab.testing.v1.EchoRequest']!).properties;
    expect(out.f_int64).toMatchObject({ type: 'string' });
    expect(out.f_string).not.toHaveProperty('minLength');
    expect(spec('echo').outputSchema).not.toHaveProperty('required');
  });
});
