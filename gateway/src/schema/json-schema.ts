import { ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { commentOf } from './comments.js';
import type { FieldRules, OptionReaders } from './options.js';

export type JsonSchemaObject = { type: 'object'; [k: string]: unknown };
type Schema = Record<string, unknown>;

const INT64 = '^-?[0-9]{1,19}$';
const UINT64 = '^[0-9]{1,20}$';
const DURATION = '^-?[0-9]{1,12}(\\.[0-9]{1,9})?s$';

/** JSON Schema of a well-known type in its proto3 JSON form, or undefined for other messages. */
function wellKnown(name: string): Schema | undefined {
  const nullable = (s: Schema) => ({ anyOf: [s, { type: 'null' }] });
  switch (name) {
    case 'google.protobuf.Timestamp':
      return { type: 'string', format: 'date-time', description: 'RFC 3339 time in UTC, e.g. "2026-11-24T12:00:00Z".' };
    case 'google.protobuf.Duration':
      return { type: 'string', pattern: DURATION, description: 'Duration in seconds with an "s" suffix, e.g. "3600s" or "1.5s".' };
    case 'google.protobuf.Struct':
      return { type: 'object', additionalProperties: true };
    case 'google.protobuf.Value':
      return { description: 'Any JSON value.' };
    case 'google.protobuf.ListValue':
      return { type: 'array', items: {} };
    case 'google.protobuf.FieldMask':
      return { type: 'string', pattern: '^([a-zA-Z0-9_.]+(,[a-zA-Z0-9_.]+)*)?$', description: 'Comma-separated field paths, e.g. "name,spec.host".' };
    case 'google.protobuf.Empty':
      return { type: 'object', properties: {}, additionalProperties: false };
    case 'google.protobuf.Any':
      return { type: 'object', properties: { '@type': { type: 'string' } }, required: ['@type'] };
    case 'google.protobuf.DoubleValue':
    case 'google.protobuf.FloatValue':
      return nullable(number());
    case 'google.protobuf.Int64Value':
      return nullable(int64(INT64));
    case 'google.protobuf.UInt64Value':
      return nullable(int64(UINT64));
    case 'google.protobuf.Int32Value':
      return nullable({ type: 'integer', minimum: -2147483648, maximum: 2147483647 });
    case 'google.protobuf.UInt32Value':
      return nullable({ type: 'integer', minimum: 0, maximum: 4294967295 });
    case 'google.protobuf.BoolValue':
      return nullable({ type: 'boolean' });
    case 'google.protobuf.StringValue':
      return nullable({ type: 'string' });
    case 'google.protobuf.BytesValue':
      return nullable(bytes());
    default:
      return undefined;
  }
}

function number(): Schema {
  // proto3 JSON also allows the strings NaN, Infinity and -Infinity.
  return { type: ['number', 'string'], pattern: '^(NaN|-?Infinity)$' };
}

function int64(pattern: string): Schema {
  return { type: ['string', 'integer'], pattern, description: '64-bit integer, as a string of digits (or a safe JSON integer).' };
}

function bytes(): Schema {
  return { type: 'string', contentEncoding: 'base64', pattern: '^[A-Za-z0-9+/_-]*={0,2}$' };
}

function scalar(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return number();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: 'integer', minimum: -2147483648, maximum: 2147483647 };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64(INT64);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return int64(UINT64);
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BYTES:
      return bytes();
  }
}

function enumSchema(e: DescEnum): Schema {
  const described = e.values.map((v) => {
    const c = commentOf(v);
    return c ? `${v.name}: ${c}` : v.name;
  });
  return { type: 'string', enum: e.values.map((v) => v.name), description: `One of: ${described.join('; ')}` };
}

function mapKeyPattern(t: ScalarType): string | undefined {
  switch (t) {
    case ScalarType.BOOL:
      return '^(true|false)$';
    case ScalarType.STRING:
      return undefined;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return '^[0-9]+$';
    default:
      return '^-?[0-9]+$';
  }
}

/** Builds JSON Schemas for messages, sharing $defs between the messages of one schema. */
class SchemaBuilder {
  readonly defs: Record<string, Schema> = {};
  readonly secretPaths: string[] = [];

  constructor(
    private readonly options: OptionReaders,
    private readonly forInput: boolean,
  ) {}

  ref(msg: DescMessage): Schema {
    const wkt = wellKnown(msg.typeName);
    if (wkt) return { ...wkt };
    if (!(msg.typeName in this.defs)) {
      this.defs[msg.typeName] = {}; // placeholder first: recursive messages refer to themselves
      this.defs[msg.typeName] = this.object(msg);
    }
    return { $ref: `#/$defs/${msg.typeName}` };
  }

  private valueSchema(field: DescField): Schema {
    switch (field.fieldKind) {
      case 'scalar':
        return scalar(field.scalar);
      case 'enum':
        return enumSchema(field.enum);
      case 'message':
        return this.ref(field.message);
      case 'list': {
        const items = field.listKind === 'scalar' ? scalar(field.scalar) : field.listKind === 'enum' ? enumSchema(field.enum) : this.ref(field.message);
        return { type: 'array', items };
      }
      case 'map': {
        const value = field.mapKind === 'scalar' ? scalar(field.scalar) : field.mapKind === 'enum' ? enumSchema(field.enum) : this.ref(field.message);
        const pattern = mapKeyPattern(field.mapKey);
        return { type: 'object', additionalProperties: value, ...(pattern ? { propertyNames: { pattern } } : {}) };
      }
    }
  }

  private applyRules(s: Schema, field: DescField, rules: FieldRules): Schema {
    const out = { ...s };
    const isList = field.fieldKind === 'list';
    const target = isList ? { ...(out.items as Schema) } : out;
    if (rules.pattern) target.pattern = rules.pattern;
    if (rules.minLen !== undefined) target.minLength = rules.minLen;
    if (rules.maxLen !== undefined) target.maxLength = rules.maxLen;
    if (rules.minimum !== undefined) target.minimum = rules.minimum;
    if (rules.maximum !== undefined) target.maximum = rules.maximum;
    if (rules.format) target.format = rules.format;
    if (isList) out.items = target;
    if (rules.minItems !== undefined) out.minItems = rules.minItems;
    if (rules.maxItems !== undefined) out.maxItems = rules.maxItems;
    if (rules.required && field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING && rules.minLen === undefined) out.minLength = 1;
    if (rules.required && isList && rules.minItems === undefined) out.minItems = 1;
    if (rules.examples?.length) out.examples = isList ? [rules.examples] : rules.examples;
    return out;
  }

  object(msg: DescMessage): Schema {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const field of msg.fields) {
      const rules = this.options.field(field);
      let s = this.valueSchema(field);
      if (this.forInput) s = this.applyRules(s, field, rules);
      const comment = commentOf(field);
      const description = [comment, typeof s.description === 'string' && !('$ref' in s) ? s.description : ''].filter(Boolean).join(' ');
      if (description) s = { ...s, description };
      properties[field.name] = s;
      if (this.forInput && rules.required) required.push(field.name);
      if (rules.secret) this.secretPaths.push(`${msg.typeName}.${field.name}`);
    }
    const schema: Schema = { type: 'object', properties, additionalProperties: false };
    const comment = commentOf(msg);
    if (comment) schema.description = comment;
    if (required.length) schema.required = required;
    // oneof: at most one member may be set.
    const dependent: Record<string, Schema> = {};
    for (const oneof of msg.oneofs) {
      const names = oneof.fields.map((f) => f.name);
      for (const n of names) {
        const others = names.filter((o) => o !== n);
        if (others.length) dependent[n] = { not: { anyOf: others.map((o) => ({ required: [o] })) } };
      }
      const note = `Set at most one of: ${names.join(', ')}.`;
      for (const n of names) {
        const p = properties[n];
        if (p) properties[n] = { ...p, description: [p.description, note].filter(Boolean).join(' ') };
      }
    }
    if (Object.keys(dependent).length) schema.dependentSchemas = dependent;
    return schema;
  }
}

/** The JSON Schema (2020-12) of a request or response message, with $defs for nested messages. */
export function messageJsonSchema(msg: DescMessage, options: OptionReaders, forInput: boolean): { schema: JsonSchemaObject; secretPaths: string[] } {
  const builder = new SchemaBuilder(options, forInput);
  const root = builder.object(msg);
  const schema: JsonSchemaObject = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...root, type: 'object' };
  if (Object.keys(builder.defs).length) schema.$defs = builder.defs;
  return { schema, secretPaths: builder.secretPaths };
}
