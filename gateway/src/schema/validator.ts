import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { PATTERNS } from './json-schema.js';

export interface Violation {
  path: string;
  message: string;
  /** A value that would fit here, from the schema (its examples, default or enum first, else made from its type). */
  example?: unknown;
}

type AddFormats = (ajv: Ajv2020) => Ajv2020;
// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

/**
 * One Ajv for every tool of every shard. Strict, so a contract that produces
 * a questionable schema fails when the shard's tools are built, not per call;
 * verbose, so errors carry the schema that rejected the value and the
 * messages can name the alternatives of a oneof.
 */
const ajv = addFormats(new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true, verbose: true, validateFormats: true }));

export function isKnownFormat(name: string): boolean {
  return name in ajv.formats;
}

/**
 * Compiles a schema once. The compiled function keeps what it needs, so the
 * schema is dropped from Ajv's cache right away: specs rebuilt after a shard's
 * contract changes do not pile up in the shared instance.
 */
export function compileSchema(schema: object): ValidateFunction {
  const validate = ajv.compile(schema);
  ajv.removeSchema(schema);
  return validate;
}

/** "/service/urls/0" -> "service.urls[0]"; keys that are not identifiers are quoted. */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => joinPath(acc, part), '');
}

export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number' || /^\d+$/.test(key)) return `${parent}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

const TYPE_WORDS: Record<string, string> = { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', object: 'an object', array: 'an array', null: 'null' };

function typeMessage(e: ErrorObject): string {
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const types = ([] as string[]).concat(e.params.type as string | string[]);
  const pattern = typeof parent.pattern === 'string' ? parent.pattern : '';
  let message: string;
  if (types.includes('string') && types.includes('integer') && PATTERN_MESSAGES[pattern]) message = PATTERN_MESSAGES[pattern];
  else message = `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}`;
  return e.data === null ? `${message} (leave the field out instead of sending null)` : message;
}

const INT64_MESSAGE = 'must be a 64-bit integer written as a decimal string, e.g. "1234"';
const PATTERN_MESSAGES: Record<string, string> = {
  [PATTERNS.int64]: INT64_MESSAGE,
  [PATTERNS.uint64]: 'must be an unsigned 64-bit integer written as a decimal string, e.g. "1234"',
  [PATTERNS.specialNumber]: 'must be a number, or one of the strings "NaN", "Infinity", "-Infinity"',
  [PATTERNS.base64]: 'must be base64-encoded bytes',
  [PATTERNS.timestamp]: 'must be an RFC 3339 timestamp such as "2026-11-24T12:00:00Z"',
  [PATTERNS.duration]: 'must be a duration in seconds with an "s" suffix, such as "3600s" or "0.5s"',
  [PATTERNS.fieldMask]: 'must be comma-separated lowerCamelCase field paths, such as "displayName,spec.host"',
};

function count(n: unknown, noun: string): string {
  return `${String(n)} ${n === 1 ? noun : noun === 'entry' ? 'entries' : `${noun}s`}`;
}

/** The alternatives a oneof conflict is about: the member being checked and the one it excludes. */
function oneofConflict(e: ErrorObject): [string, string] | undefined {
  const m = /\/dependentSchemas\/([^/]+)\/properties\/([^/]+)\/false schema$/.exec(e.schemaPath);
  return m ? [decodeURIComponent(m[1]!).replace(/~1/g, '/').replace(/~0/g, '~'), decodeURIComponent(m[2]!).replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
}

type Describe = (e: ErrorObject, at: string) => Violation;

const limitWords = (e: ErrorObject, unit: string) => count(e.params.limit, unit);

/** What each JSON Schema keyword's failure means, in words, at the field it names. */
const DESCRIBE: Record<string, Describe> = {
  additionalProperties: (e, at) => {
    const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const list = known.length ? `; the fields here are ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}` : '';
    return { path: joinPath(at, String(e.params.additionalProperty)), message: `unknown field (field names are snake_case, exactly as in the schema${list})` };
  },
  required: (e, at) => ({ path: joinPath(at, String(e.params.missingProperty)), message: 'is required' }),
  propertyNames: (e, at) => {
    const boolKeys = (e.schema as { pattern?: string } | undefined)?.pattern?.includes('true|false');
    return { path: joinPath(at, String(e.params.propertyName)), message: `is not a valid key here: keys are ${boolKeys ? '"true" or "false"' : 'integers written as strings, such as "42"'}` };
  },
  anyOf: (e, at) => {
    const members = ((e.schema as { required?: string[] }[] | undefined) ?? []).flatMap((s) => s.required ?? []);
    return { path: at, message: members.length ? `set exactly one of: ${members.join(', ')}` : 'does not match any allowed form' };
  },
  type: (e, at) => ({ path: at, message: typeMessage(e) }),
  enum: (e, at) => ({ path: at, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` }),
  pattern: (e, at) => ({ path: at, message: PATTERN_MESSAGES[String(e.params.pattern)] ?? `must match the pattern ${String(e.params.pattern)}` }),
  minLength: (e, at) => ({ path: at, message: e.params.limit === 1 ? 'must not be empty' : `must have at least ${limitWords(e, 'character')}` }),
  maxLength: (e, at) => ({ path: at, message: `must have at most ${limitWords(e, 'character')}` }),
  minItems: (e, at) => ({ path: at, message: `must have at least ${limitWords(e, 'item')}` }),
  minProperties: (e, at) => ({ path: at, message: `must have at least ${limitWords(e, 'entry')}` }),
  maxItems: (e, at) => ({ path: at, message: `must have at most ${limitWords(e, 'item')}` }),
  maxProperties: (e, at) => ({ path: at, message: `must have at most ${limitWords(e, 'entry')}` }),
  minimum: (e, at) => ({ path: at, message: `must be at least ${String(e.params.limit)}` }),
  maximum: (e, at) => ({ path: at, message: `must be at most ${String(e.params.limit)}` }),
  format: (e, at) => ({ path: at, message: `must be a valid ${String(e.params.format)}` }),
};

/**
 * A oneof member set together with another: said once per pair (Ajv reports
 * it from both sides), or undefined for the second side. A false schema that
 * is not a oneof is a field that may not be set here.
 */
function describeFalseSchema(e: ErrorObject, at: string, conflicts: Set<string>): Violation | undefined {
  const pair = oneofConflict(e);
  if (!pair) return { path: at, message: 'is not allowed here' };
  const key = [e.instancePath.slice(0, e.instancePath.lastIndexOf('/')), ...[...pair].sort()].join('\u0000');
  if (conflicts.has(key)) return undefined;
  conflicts.add(key);
  return { path: at, message: `cannot be set together with ${pair[0]}: they are alternatives (a oneof), set only one` };
}

const TYPE_EXAMPLES: Record<string, unknown> = { integer: 1, number: 1.5, boolean: true };
const PATTERN_EXAMPLES: Record<string, unknown> = {
  [PATTERNS.int64]: '1234',
  [PATTERNS.uint64]: '1234',
  [PATTERNS.timestamp]: '2026-11-24T12:00:00Z',
  [PATTERNS.duration]: '3600s',
  [PATTERNS.fieldMask]: 'displayName',
};
const FORMAT_EXAMPLES: Record<string, unknown> = { hostname: 'gitea.home.lan', uri: 'http://10.0.0.5:3000', email: 'admin@home.lan', 'date-time': '2026-11-24T12:00:00Z', ipv4: '192.168.1.10' };

/** A value that fits a schema, for "e.g." in a violation; undefined when none can be told without guessing. */
export function exampleOf(schema: unknown, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 4) return undefined;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum)) return s.enum.find((v) => !/_UNSPECIFIED$/.test(String(v))) ?? s.enum[0];
  const types = ([] as unknown[]).concat(s.type ?? []);
  if (typeof s.pattern === 'string' && s.pattern in PATTERN_EXAMPLES) return PATTERN_EXAMPLES[s.pattern];
  if (typeof s.format === 'string' && s.format in FORMAT_EXAMPLES) return FORMAT_EXAMPLES[s.format];
  if (types.includes('array')) {
    const item = exampleOf(s.items, depth + 1);
    return item === undefined ? undefined : [item];
  }
  if (typeof s.pattern === 'string') return undefined;
  if ((types.includes('integer') || types.includes('number')) && typeof s.minimum === 'number' && s.minimum > 0) return s.minimum;
  const first = types.find((t) => typeof t === 'string' && t !== 'null') as string | undefined;
  return first ? TYPE_EXAMPLES[first] : undefined;
}

/** The schema a violation is about: the property that is missing, else the one that failed. */
function schemaAt(e: ErrorObject): unknown {
  const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
  if (e.keyword === 'required') return parent?.properties?.[String(e.params.missingProperty)];
  if (['additionalProperties', 'false schema', 'anyOf', 'propertyNames'].includes(e.keyword)) return undefined;
  return e.parentSchema;
}

/**
 * Turns Ajv's errors into violations a person (or model) can act on: each
 * names the field, says what is wrong in words, and appears once.
 */
export function describeErrors(errors: ErrorObject[]): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  // Errors inside an anyOf that lists oneof members say "required" per member; the anyOf itself says it better.
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath);
  const conflicts = new Set<string>();
  for (const e of errors) {
    if (anyOfPaths.some((p) => e.schemaPath.startsWith(`${p}/`))) continue;
    if (e.schemaPath.includes('/propertyNames/')) continue;
    const at = pointerToPath(e.instancePath);
    const describe = Object.hasOwn(DESCRIBE, e.keyword) ? DESCRIBE[e.keyword] : undefined;
    const v = e.keyword === 'false schema' ? describeFalseSchema(e, at, conflicts) : describe ? describe(e, at) : { path: at, message: e.message ?? 'is invalid' };
    // One message per field is enough (a timestamp failing its pattern also fails its format).
    if (v && !seen.has(v.path)) {
      seen.add(v.path);
      const example = v.example ?? exampleOf(schemaAt(e));
      out.push(example === undefined ? v : { ...v, example });
    }
  }
  return out;
}
