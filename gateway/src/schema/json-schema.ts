import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';
import { commentOf } from './comments.js';
import { MAX_VALUE_DEPTH } from './depth.js';
import type { FieldRules, OptionReaders } from './options.js';

export type JsonSchemaObject = { type: 'object'; [k: string]: unknown };
type Schema = Record<string, unknown>;

/** Input schemas carry the field rules and `required`; output schemas describe what decodeResponse emits. */
export type SchemaMode = 'input' | 'output';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

const INT32 = { minimum: -2147483648, maximum: 2147483647 };
const UINT32 = { minimum: 0, maximum: 4294967295 };
const FLOAT_MAX = 3.4028234663852886e38;
/** The patterns of the proto3 JSON encodings (the validator words their violations). */
export const PATTERNS = {
  int64: '^-?[0-9]{1,19}$',
  uint64: '^[0-9]{1,20}$',
  specialNumber: '^(NaN|-?Infinity)$',
  base64: '^[A-Za-z0-9+/_-]*={0,2}$',
  timestamp: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$',
  duration: '^-?[0-9]{1,12}(\\.[0-9]{1,9})?s$',
  fieldMask: '^([a-z][A-Za-z0-9]*(\\.[a-z][A-Za-z0-9]*)*(,[a-z][A-Za-z0-9]*(\\.[a-z][A-Za-z0-9]*)*)*)?$',
};

const NOTE = {
  int64: 'A 64-bit integer written as a decimal string, e.g. "1234".',
  int64In: 'A 64-bit integer written as a decimal string, e.g. "1234" (a JSON integer up to 2^53 works too).',
  float: 'A number; "NaN", "Infinity" and "-Infinity" are written as strings.',
  bytes: 'Bytes, base64-encoded.',
  timestamp: 'An RFC 3339 timestamp, e.g. "2026-11-24T12:00:00Z" (up to 9 fractional digits).',
  duration: 'A duration in seconds with an "s" suffix, e.g. "3600s" or "0.5s".',
  struct: 'A JSON object.',
  value: 'Any JSON value.',
  list: 'A JSON array of any values.',
  fieldMask: 'Comma-separated field paths in lowerCamelCase, e.g. "displayName,spec.host".',
  empty: 'An empty object: {}.',
  any: 'A message of any type: its proto3 JSON with "@type" set to "type.googleapis.com/<full message name>".',
  wrapper: 'null or left out means no value.',
  /** Added to JSON-valued input fields: deeper values are refused, protobuf could not carry them. */
  depth: `Objects and arrays may nest at most ${MAX_VALUE_DEPTH} levels deep.`,
};

function int64(mode: SchemaMode, unsigned: boolean): Schema {
  const pattern = unsigned ? PATTERNS.uint64 : PATTERNS.int64;
  if (mode === 'output') return { type: 'string', pattern };
  // Safe JSON integers are accepted too: models often send small counts as numbers.
  return { type: ['string', 'integer'], pattern, minimum: unsigned ? 0 : -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
}

function float(single: boolean): Schema {
  const s: Schema = { type: ['number', 'string'], pattern: PATTERNS.specialNumber };
  if (single) Object.assign(s, { minimum: -FLOAT_MAX, maximum: FLOAT_MAX });
  return s;
}

function bytes(): Schema {
  return { type: 'string', contentEncoding: 'base64', pattern: PATTERNS.base64 };
}

/** A schema plus the note that explains its encoding to the model (added to the field's description). */
interface Typed {
  schema: Schema;
  note?: string;
}

function scalar(t: ScalarType, mode: SchemaMode): Typed {
  switch (t) {
    case ScalarType.DOUBLE:
      return { schema: float(false), note: NOTE.float };
    case ScalarType.FLOAT:
      return { schema: float(true), note: NOTE.float };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { schema: { type: 'integer', ...INT32 } };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { schema: { type: 'integer', ...UINT32 } };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { schema: int64(mode, false), note: mode === 'input' ? NOTE.int64In : NOTE.int64 };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { schema: int64(mode, true), note: mode === 'input' ? NOTE.int64In : NOTE.int64 };
    case ScalarType.BOOL:
      return { schema: { type: 'boolean' } };
    case ScalarType.STRING:
      return { schema: { type: 'string' } };
    case ScalarType.BYTES:
      return { schema: bytes(), note: NOTE.bytes };
  }
}

function nullable(t: Typed): Typed {
  const type = t.schema.type;
  return { schema: { ...t.schema, type: [...(Array.isArray(type) ? type : [type]), 'null'] }, note: [t.note, NOTE.wrapper].filter(Boolean).join(' ') };
}

const WRAPPERS: Record<string, ScalarType> = {
  'google.protobuf.DoubleValue': ScalarType.DOUBLE,
  'google.protobuf.FloatValue': ScalarType.FLOAT,
  'google.protobuf.Int64Value': ScalarType.INT64,
  'google.protobuf.UInt64Value': ScalarType.UINT64,
  'google.protobuf.Int32Value': ScalarType.INT32,
  'google.protobuf.UInt32Value': ScalarType.UINT32,
  'google.protobuf.BoolValue': ScalarType.BOOL,
  'google.protobuf.StringValue': ScalarType.STRING,
  'google.protobuf.BytesValue': ScalarType.BYTES,
};

function withDepth(note: string, mode: SchemaMode): string {
  return mode === 'input' ? `${note} ${NOTE.depth}` : note;
}

/** The proto3 JSON form of a well-known type, or undefined for ordinary messages. */
function wellKnown(typeName: string, mode: SchemaMode): Typed | undefined {
  const wrapped = WRAPPERS[typeName];
  if (wrapped !== undefined) return nullable(scalar(wrapped, mode));
  switch (typeName) {
    case 'google.protobuf.Timestamp':
      return { schema: { type: 'string', format: 'date-time', pattern: PATTERNS.timestamp }, note: NOTE.timestamp };
    case 'google.protobuf.Duration':
      return { schema: { type: 'string', pattern: PATTERNS.duration }, note: NOTE.duration };
    case 'google.protobuf.Struct':
      return { schema: { type: 'object', additionalProperties: true }, note: withDepth(NOTE.struct, mode) };
    case 'google.protobuf.Value':
      return { schema: {}, note: withDepth(NOTE.value, mode) };
    case 'google.protobuf.ListValue':
      return { schema: { type: 'array', items: {} }, note: withDepth(NOTE.list, mode) };
    case 'google.protobuf.FieldMask':
      return { schema: { type: 'string', pattern: PATTERNS.fieldMask }, note: NOTE.fieldMask };
    case 'google.protobuf.Empty':
      return { schema: { type: 'object', properties: {}, additionalProperties: false }, note: NOTE.empty };
    case 'google.protobuf.Any':
      return { schema: { type: 'object', properties: { '@type': { type: 'string' } }, required: ['@type'], additionalProperties: true }, note: withDepth(NOTE.any, mode) };
    default:
      return undefined;
  }
}

function sentence(text: string): string {
  return /[.!?:)]$/.test(text) ? text : `${text}.`;
}

function isUnspecified(e: DescEnum, index: number): boolean {
  return index === 0 && e.values[0]?.number === 0;
}

function enumTyped(e: DescEnum, dropZero: boolean): Typed {
  const values = e.values.filter((_, i) => !(dropZero && isUnspecified(e, i)));
  const described = values.map((v) => {
    const c = commentOf(v);
    const isDefault = isUnspecified(e, e.values.indexOf(v));
    return `${v.name}${isDefault ? ' (the default)' : ''}${c ? `: ${sentence(c)}` : ''}`;
  });
  return { schema: { type: 'string', enum: values.map((v) => v.name) }, note: `One of: ${described.join(' ')}` };
}

function mapKeyPattern(t: ScalarType): string | undefined {
  switch (t) {
    case ScalarType.STRING:
      return undefined;
    case ScalarType.BOOL:
      return '^(true|false)$';
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return '^[0-9]+$';
    default:
      return '^-?[0-9]+$';
  }
}

function humanize(name: string): string {
  const words = name.replace(/_/g, ' ').trim();
  return sentence(words.charAt(0).toUpperCase() + words.slice(1));
}

function typeIncludes(s: Schema, t: string): boolean {
  return Array.isArray(s.type) ? s.type.includes(t) : s.type === t;
}

/** FieldRules.examples are strings; the schema shows them as values of the field's JSON type. */
function typedExample(raw: string, s: Schema): unknown {
  if ((typeIncludes(s, 'integer') || typeIncludes(s, 'number')) && !typeIncludes(s, 'string') && Number.isFinite(Number(raw))) return Number(raw);
  if (typeIncludes(s, 'boolean')) return raw === 'true';
  if (typeIncludes(s, 'object') || typeIncludes(s, 'array') || '$ref' in s) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

/** Where a FieldRules keyword does not fit the field's type: the contract has a bug worth naming. */
export class ContractError extends Error {}

/** Builds the JSON Schema of one request or response message; nested messages go to $defs, shared by reference. */
export class SchemaBuilder {
  readonly defs: Record<string, Schema> = {};
  private readonly validFormats: (name: string) => boolean;

  constructor(
    private readonly options: OptionReaders,
    private readonly mode: SchemaMode,
    validFormats: (name: string) => boolean,
  ) {
    this.validFormats = validFormats;
  }

  /** The root schema: always an object. */
  root(msg: DescMessage): JsonSchemaObject {
    const wkt = wellKnown(msg.typeName, this.mode);
    let body: Schema;
    if (wkt) {
      if (!typeIncludes(wkt.schema, 'object')) throw new ContractError(`${msg.typeName} is not a JSON object and cannot be a tool's ${this.mode}`);
      body = { ...wkt.schema, description: wkt.note };
    } else {
      body = this.object(msg);
    }
    const schema: JsonSchemaObject = { $schema: JSON_SCHEMA_DIALECT, ...body, type: 'object' };
    if (Object.keys(this.defs).length) schema.$defs = this.defs;
    return schema;
  }

  private message(msg: DescMessage): Typed {
    const wkt = wellKnown(msg.typeName, this.mode);
    if (wkt) return { schema: { ...wkt.schema }, note: wkt.note };
    if (!(msg.typeName in this.defs)) {
      this.defs[msg.typeName] = {}; // reserved first, so a recursive message refers to itself and the walk ends
      this.defs[msg.typeName] = this.object(msg);
    }
    return { schema: { $ref: `#/$defs/${msg.typeName}` } };
  }

  private value(field: DescField, rules: FieldRules | undefined): Typed {
    const required = this.mode === 'input' && rules?.required === true;
    switch (field.fieldKind) {
      case 'scalar':
        return scalar(field.scalar, this.mode);
      case 'enum':
        // A required enum must name a real value, so its zero ("unspecified") value is not offered.
        return enumTyped(field.enum, required && field.oneof === undefined);
      case 'message':
        return this.message(field.message);
      case 'list': {
        const item = field.listKind === 'scalar' ? scalar(field.scalar, this.mode) : field.listKind === 'enum' ? enumTyped(field.enum, false) : this.message(field.message);
        return { schema: { type: 'array', items: item.schema }, note: item.note && `Each item: ${item.note}` };
      }
      case 'map': {
        const value = field.mapKind === 'scalar' ? scalar(field.scalar, this.mode) : field.mapKind === 'enum' ? enumTyped(field.enum, false) : this.message(field.message);
        const pattern = mapKeyPattern(field.mapKey);
        const keyNote = pattern ? `Keys are ${field.mapKey === ScalarType.BOOL ? '"true" or "false"' : 'integers written as strings'}.` : '';
        return {
          schema: { type: 'object', additionalProperties: value.schema, ...(pattern ? { propertyNames: { pattern } } : {}) },
          note: [keyNote, value.note && `Each value: ${value.note}`].filter(Boolean).join(' '),
        };
      }
    }
  }

  private applyRules(s: Schema, field: DescField, rules: FieldRules): Schema {
    const out = { ...s };
    const container = field.fieldKind === 'list' ? 'items' : field.fieldKind === 'map' ? 'additionalProperties' : undefined;
    const target: Schema = container ? { ...(out[container] as Schema) } : out;
    const where = `${field.parent.typeName}.${field.name}`;
    const put = (keyword: string, value: unknown, type: 'string' | 'number') => {
      const fits = type === 'string' ? typeIncludes(target, 'string') : typeIncludes(target, 'integer') || typeIncludes(target, 'number');
      if (!fits) throw new ContractError(`${where}: (homelab.mcp.v1.field).${keyword} needs a ${type} field`);
      target[keyword] = value;
    };
    if (rules.pattern) {
      try {
        new RegExp(rules.pattern, 'u');
      } catch {
        throw new ContractError(`${where}: (homelab.mcp.v1.field).pattern is not a valid regular expression`);
      }
      put('pattern', rules.pattern, 'string');
    }
    if (rules.minLen !== undefined) put('minLength', rules.minLen, 'string');
    if (rules.maxLen !== undefined) put('maxLength', rules.maxLen, 'string');
    if (rules.minimum !== undefined) put('minimum', rules.minimum, 'number');
    if (rules.maximum !== undefined) put('maximum', rules.maximum, 'number');
    if (rules.format) {
      if (!this.validFormats(rules.format)) throw new ContractError(`${where}: (homelab.mcp.v1.field).format "${rules.format}" is not a known JSON Schema format`);
      put('format', rules.format, 'string');
    }
    // proto3 cannot tell an empty string or list from an unset one, so "required" means non-empty.
    if (rules.required && field.fieldKind === 'scalar' && typeIncludes(target, 'string') && target.minLength === undefined) target.minLength = 1;
    if (container) out[container] = target;
    const [minKey, maxKey] = field.fieldKind === 'map' ? ['minProperties', 'maxProperties'] : ['minItems', 'maxItems'];
    if (rules.minItems !== undefined || rules.maxItems !== undefined) {
      if (!container) throw new ContractError(`${where}: (homelab.mcp.v1.field).min_items/max_items need a repeated or map field`);
      if (rules.minItems !== undefined) out[minKey] = rules.minItems;
      if (rules.maxItems !== undefined) out[maxKey] = rules.maxItems;
    }
    if (rules.required && container && out[minKey] === undefined) out[minKey] = 1;
    if (rules.examples.length) {
      const items = rules.examples.map((e) => typedExample(e, target));
      out.examples = container === 'items' ? [items] : items;
    }
    return out;
  }

  private object(msg: DescMessage): Schema {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    const oneofNotes = new Map<DescOneof, string>();
    const exactlyOne: DescOneof[] = [];
    for (const oneof of msg.oneofs) {
      // A oneof whose member is marked required must have exactly one member set.
      const strict = this.mode === 'input' && oneof.fields.some((f) => this.options.field(f)?.required);
      if (strict) exactlyOne.push(oneof);
      oneofNotes.set(oneof, `Set ${strict ? 'exactly' : 'at most'} one of: ${oneof.fields.map((f) => f.name).join(', ')}.`);
    }
    for (const field of msg.fields) {
      const rules = this.options.field(field);
      const typed = this.value(field, rules);
      let s = typed.schema;
      if (this.mode === 'input' && rules) s = this.applyRules(s, field, rules);
      const oneofNote = field.oneof ? oneofNotes.get(field.oneof) : undefined;
      const comment = commentOf(field);
      const description = [comment ? sentence(comment) : humanize(field.name), typed.note, oneofNote].filter(Boolean).join(' ');
      properties[field.name] = { description, ...s };
      // proto2 `required` (and editions' LEGACY_REQUIRED) fields fail to encode without a value.
      // A list that must have items cannot be left out either: saying so in `required` lets a client ask for it up front.
      const mustBeSet = rules?.required || (rules?.minItems ?? 0) > 0 || field.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED;
      if (this.mode === 'input' && mustBeSet && !field.oneof) required.push(field.name);
    }
    const schema: Schema = { type: 'object' };
    const comment = commentOf(msg);
    schema.description = comment ? sentence(comment) : humanize(msg.name);
    schema.properties = properties;
    if (required.length) schema.required = required;
    schema.additionalProperties = false;
    const dependent: Record<string, Schema> = {};
    for (const oneof of msg.oneofs) {
      const names = oneof.fields.map((f) => f.name);
      if (names.length < 2) continue;
      for (const n of names) dependent[n] = { properties: Object.fromEntries(names.filter((o) => o !== n).map((o) => [o, false])) };
    }
    if (Object.keys(dependent).length) schema.dependentSchemas = dependent;
    const atLeastOne = exactlyOne.map((o) => ({ anyOf: o.fields.map((f) => ({ required: [f.name] })) }));
    if (atLeastOne.length === 1) Object.assign(schema, atLeastOne[0]);
    else if (atLeastOne.length > 1) schema.allOf = atLeastOne;
    return schema;
  }
}

/** Paths (as in violations: `a.b[*].c`, map values `m.*`) of the fields marked secret, for redaction. */
export function secretPaths(msg: DescMessage, options: OptionReaders): string[] {
  const out: string[] = [];
  const walk = (m: DescMessage, prefix: string, stack: Set<string>) => {
    if (stack.has(m.typeName)) return;
    stack.add(m.typeName);
    for (const f of m.fields) {
      const path = prefix ? `${prefix}.${f.name}` : f.name;
      if (options.field(f)?.secret) out.push(path);
      if (f.fieldKind === 'message') walk(f.message, path, stack);
      else if (f.fieldKind === 'list' && f.listKind === 'message') walk(f.message, `${path}[*]`, stack);
      else if (f.fieldKind === 'map' && f.mapKind === 'message') walk(f.message, `${path}.*`, stack);
    }
    stack.delete(m.typeName);
  };
  walk(msg, '', new Set());
  return out;
}

/**
 * The input schema as published: what every client can read. Some clients
 * reject boolean subschemas and `type` arrays, so oneof exclusions
 * (dependentSchemas) go, and a value with several JSON forms shows its first
 * one; each field's description already states both rules, and the gateway
 * still validates against the exact schema.
 */
export function portableSchema<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((s: unknown) => portableSchema(s)) as T;
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'dependentSchemas') continue;
    if (key === 'additionalProperties' && value === true) continue;
    // Keywords whose values are data, not schemas, are copied as they are.
    out[key] = key === 'examples' || key === 'enum' || key === 'default' || key === 'const' || key === 'required' ? value : portableSchema(value);
  }
  if (Array.isArray(out.type)) {
    const types = (out.type as string[]).filter((t) => t !== 'null');
    out.type = types[0] ?? 'null';
    if (out.type !== 'string') delete out.pattern;
    if (out.type === 'string') {
      delete out.minimum;
      delete out.maximum;
    }
  }
  return out as T;
}
