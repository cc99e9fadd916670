import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { PATTERNS } from './json-schema.js';

export interface Violation {
  path: string;
  message: string;
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

/**
 * Turns Ajv's errors into violations a person (or model) can act on: each
 * names the field, says what is wrong in words, and appears once.
 */
export function describeErrors(errors: ErrorObject[]): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  const push = (v: Violation) => {
    // One message per field is enough (a timestamp failing its pattern also fails its format).
    if (!seen.has(v.path)) {
      seen.add(v.path);
      out.push(v);
    }
  };
  // Errors inside an anyOf that lists oneof members say "required" per member; the anyOf itself says it better.
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath);
  const conflicts = new Set<string>();
  for (const e of errors) {
    if (anyOfPaths.some((p) => e.schemaPath.startsWith(`${p}/`))) continue;
    if (e.schemaPath.includes('/propertyNames/')) continue;
    const at = pointerToPath(e.instancePath);
    switch (e.keyword) {
      case 'additionalProperties':
        push({ path: joinPath(at, String(e.params.additionalProperty)), message: 'unknown field (field names are snake_case, exactly as in the schema)' });
        break;
      case 'required':
        push({ path: joinPath(at, String(e.params.missingProperty)), message: 'is required' });
        break;
      case 'propertyNames': {
        const boolKeys = (e.schema as { pattern?: string } | undefined)?.pattern?.includes('true|false');
        push({ path: joinPath(at, String(e.params.propertyName)), message: `is not a valid key here: keys are ${boolKeys ? '"true" or "false"' : 'integers written as strings, such as "42"'}` });
        break;
      }
      case 'anyOf': {
        const members = ((e.schema as { required?: string[] }[] | undefined) ?? []).flatMap((s) => s.required ?? []);
        push({ path: at, message: members.length ? `set exactly one of: ${members.join(', ')}` : 'does not match any allowed form' });
        break;
      }
      case 'false schema': {
        const pair = oneofConflict(e);
        if (!pair) {
          push({ path: at, message: 'is not allowed here' });
          break;
        }
        const key = [e.instancePath.slice(0, e.instancePath.lastIndexOf('/')), ...[...pair].sort()].join('\u0000');
        if (conflicts.has(key)) break;
        conflicts.add(key);
        push({ path: at, message: `cannot be set together with ${pair[0]}: they are alternatives (a oneof), set only one` });
        break;
      }
      case 'type':
        push({ path: at, message: typeMessage(e) });
        break;
      case 'enum':
        push({ path: at, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` });
        break;
      case 'pattern':
        push({ path: at, message: PATTERN_MESSAGES[String(e.params.pattern)] ?? `must match the pattern ${String(e.params.pattern)}` });
        break;
      case 'minLength':
        push({ path: at, message: e.params.limit === 1 ? 'must not be empty' : `must have at least ${count(e.params.limit, 'character')}` });
        break;
      case 'maxLength':
        push({ path: at, message: `must have at most ${count(e.params.limit, 'character')}` });
        break;
      case 'minItems':
      case 'minProperties':
        push({ path: at, message: `must have at least ${count(e.params.limit, e.keyword === 'minItems' ? 'item' : 'entry')}` });
        break;
      case 'maxItems':
      case 'maxProperties':
        push({ path: at, message: `must have at most ${count(e.params.limit, e.keyword === 'maxItems' ? 'item' : 'entry')}` });
        break;
      case 'minimum':
      case 'maximum':
        push({ path: at, message: `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(e.params.limit)}` });
        break;
      case 'format':
        push({ path: at, message: `must be a valid ${String(e.params.format)}` });
        break;
      default:
        push({ path: at, message: e.message ?? 'is invalid' });
    }
  }
  return out;
}
