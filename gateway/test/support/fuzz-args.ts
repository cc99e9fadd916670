// Generates tool arguments from a tool's JSON Schema (as tools/list shows it):
// arguments that break exactly one rule at a known place (invalid by
// construction, each with the path the answer must name), and arguments on
// the edge of what the schema allows (valid as far as the schema can tell).

import { MAX_VALUE_DEPTH } from '../../src/schema/index.js';

export type JsonSchema = { [k: string]: unknown };

export interface FuzzTool {
  name: string;
  inputSchema: JsonSchema;
}

/** Arguments that break one rule at a known place. */
export interface InvalidCase {
  tool: string;
  kind: string;
  args: Record<string, unknown>;
  /** Where the broken value sits, in the gateway's spelling: `service.urls[0]`, `m["a b"]`. */
  path: string;
  /** The violation paths that name it (two for a oneof conflict: either member may be named). */
  paths: string[];
  /** What the error message must contain (one of): `path: ` and, for a top-level field, its bare name. */
  mentions: string[];
}

/** What breakHere and walk produce for one position. */
interface Broken {
  kind: string;
  value: unknown;
  path: string;
  /** Other violation paths that name the problem as well. */
  alts?: string[];
  /** A bare top-level name a hand-written validator may use instead of the path. */
  bare?: string;
}

/** Arguments the schema allows (or may allow): the call may succeed or fail, but must not crash or hang. */
export interface EdgeCase {
  tool: string;
  kind: string;
  args: Record<string, unknown>;
}

/** mulberry32: a small seeded PRNG, so every run generates the same arguments. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    if (!items.length) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** The gateway's path spelling (see schema/validator.ts): `a.b`, `a[0]`, `a["not an identifier"]`. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number' || /^\d+$/.test(key)) return `${parent}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Sets an own property, even `__proto__` (plain assignment would change the prototype instead). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function copyObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) setOwn(out, k, v);
  return out;
}

/** Code points, as JSON Schema (and Ajv) count string length. */
export function lengthOf(s: string): number {
  return [...s].length;
}

// The proto3 JSON encodings of the gateway's schemas (gateway/src/schema/json-schema.ts).
const INT64_PATTERN = '^-?[0-9]{1,19}$';
const UINT64_PATTERN = '^[0-9]{1,20}$';
const SPECIAL_NUMBER_PATTERN = '^(NaN|-?Infinity)$';
const TIMESTAMP_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$';
const DURATION_PATTERN = '^-?[0-9]{1,12}(\\.[0-9]{1,9})?s$';

const WEIRD = [
  '\u0000', '\u0007', '\u001b[31m', '\u00e9', 'e\u0301', '\u00df', '\u0130', '\u202e', '\u200b', '\u200d', '\ufeff', '\ufffd', '\uffff',
  '\ud800', '\udfff', '\ud83d\ude00', '\ud83c\udff3\ufe0f\u200d\ud83c\udf08', '\u4e2d\u6587', '\u0627\u0644\u0639\u0631\u0628\u064a\u0629', '\u0928\u092e\u0938\u094d\u0924\u0947',
  '\u1100\u1161', '\u2028', '\u2029', '\n', '\r\n', '\t', '"', '\\', '\'', '<', '>', '&', '%00', '${x}', '{{x}}', '../', '$(id)',
];

/** A string of at least `min` code points mixing ASCII with the unicode above. */
function weirdString(rng: Rng, min: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < min) {
    const part = rng.chance(0.6) ? String.fromCharCode(rng.int(0x61, 0x7a)).repeat(rng.int(1, Math.max(1, Math.min(4096, min >> 3)))) : rng.pick(WEIRD);
    parts.push(part);
    n += lengthOf(part);
  }
  return parts.join('');
}

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff'];

const IDENT_PARTS = ['zz', 'unknown', 'extra', 'foo', 'bar', 'x', 'the', 'field', 'id', 'name2', 'v'];
const ODD_KEYS = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '', ' ', '0', '42', '-1', 'a.b', 'a[0]', 'a/b', '~0', '~1', '$ref', '@type', '$schema',
  '\u043a\u043b\u044e\u0447', '\ud83d\ude00', '\u0000', 'key\u0000nul', '\u202eevil', 'k\u200b', '\ud800', 'null', 'true', '"quoted"', 'back\\slash', 'new\nline', 'UPPER', 'camelCase',
];

function randomIdentifier(rng: Rng): string {
  const n = rng.int(1, 3);
  return Array.from({ length: n }, () => rng.pick(IDENT_PARTS)).join('_') + (rng.chance(0.5) ? String(rng.int(0, 999)) : '');
}

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

type TypeName = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

function jsonTypesOf(v: unknown): TypeName[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  switch (typeof v) {
    case 'string':
      return ['string'];
    case 'boolean':
      return ['boolean'];
    case 'number':
      return Number.isInteger(v) ? ['number', 'integer'] : ['number'];
    default:
      return ['object'];
  }
}

const WRONG_TYPE_POOL: unknown[] = [
  'x', '', '123', '-1', '1.5', 'true', 'false', 'null', '{}', '[]', '\ud83d\ude00', '\u0000',
  0, 1, -1, 42, 1.5, -0.25, 1e300, -1e300, 2147483648, 2 ** 53,
  true, false, null,
  {}, { a: 1 }, { '': null }, { value: 'x' },
  [], [1], ['a', 2, null], [[]], [{}],
];

/** Non-conforming candidates for a string pattern (checked against the pattern before use). */
const PATTERN_BREAKERS = [
  '', ' ', 'has space', 'UPPER_lower', '-leading', 'trailing-', 'a..b', 'a/b', '../etc/passwd', '/', '//', '@', '@@', '%', 'a=b', '====', '!!!',
  '1.5', '0x1F', '1e3', '+1', ' 1', '1 ', '1s ', 's', '1h', 'P1D', '1.1234567890s', '--1s', 'nan', 'inf', 'Infinity ', '-NaN', 'infinity',
  '\u0661\u0662\u0663', '\uff11\uff12', 'x'.repeat(70), '\u00fcn\u00efc\u00f6d\u00e9', '\ud83d\ude00', '\u0000', '\u202e', 'a\nb', '<script>', '$(id)', 'Foo', 'a,', ',a', 'a,,b', 'f_string', 'A.b',
];

const FORMAT_BREAKERS: Record<string, string[]> = {
  hostname: ['not a host', '-bad.lan', 'bad-.lan', 'a..b', `${'x'.repeat(64)}.lan`, 'under_score.lan', 'h\u00f6st.lan', '\ud83d\ude00.lan', 'http://x.lan', 'x.lan/', '.', 'host\u0000.lan', '1.2.3.4:80', 'a b'],
  uri: ['not a uri', 'relative/path', '://x', 'http://exa mple.com', 'http://[::1', 'ht tp://x', '\u202ehttp://x', '/just/path', 'mailto', 'http://x/%zz', '\ud83d\ude00', 'http://\u0000x'],
  'date-time': ['2024-02-30T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:61:00Z', 'yesterday', '2024-01-01', '2023-02-29T00:00:00Z', '2024-00-10T00:00:00Z', '2024-01-01T00:00:60+25:00'],
};

/** Strings that fit the schema's patterns but not protobuf's ranges: only the conversion can reject them. */
const RANGE_BREAKERS: Record<string, string[]> = {
  [INT64_PATTERN]: ['9223372036854775808', '-9223372036854775809', '9999999999999999999', '-9999999999999999999'],
  [UINT64_PATTERN]: ['18446744073709551616', '99999999999999999999'],
  [TIMESTAMP_PATTERN]: ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59-01:00', '0000-12-31T23:59:59Z'],
  [DURATION_PATTERN]: ['315576000001s', '-315576000001s', '999999999999s', '-999999999999.999999999s'],
};

const VALID_STRINGS = ['a', 'x1', 'gitea', 'host.home.lan', '/', '/x', '1s', '0', 'AQ==', 'fString', 'abc-1', 'default-authentication-flow', 'Traefik_1'];
const VALID_FORMAT: Record<string, string> = { hostname: 'host.home.lan', uri: 'https://svc.home.lan/x', 'date-time': '2024-01-02T03:04:05Z' };

interface Option {
  make: () => Broken | undefined;
  weight: number;
}

/** A position (the children to descend into from the root) and one of the ways to break the value there. */
interface Route {
  kids: string[];
  option: number;
}

interface Limits {
  minimum?: number;
  maximum?: number;
}

export class ArgsFuzzer {
  private readonly regexCache = new Map<string, RegExp>();

  constructor(
    private readonly rng: Rng,
    private readonly tool: FuzzTool,
    /** Diagnose-style validators name a top-level field by its bare name. */
    private readonly bareNames = false,
  ) {}

  // ---- the schema --------------------------------------------------------

  resolve(s: JsonSchema): JsonSchema {
    let cur = s;
    for (let i = 0; i < 32 && typeof cur.$ref === 'string'; i++) {
      const ref = cur.$ref as string;
      const m = /^#\/\$defs\/(.+)$/.exec(ref);
      const defs = (this.tool.inputSchema.$defs ?? {}) as Record<string, JsonSchema>;
      const target = m ? defs[m[1]!.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
      if (!target) throw new Error(`${this.tool.name}: cannot resolve ${ref}`);
      const { $ref: _ref, ...rest } = cur;
      cur = { ...target, ...rest };
    }
    return cur;
  }

  private types(s: JsonSchema): TypeName[] | undefined {
    if (s.type === undefined) {
      if (s.properties || s.additionalProperties !== undefined) return ['object'];
      return undefined;
    }
    return (Array.isArray(s.type) ? s.type : [s.type]) as TypeName[];
  }

  private allows(s: JsonSchema, v: unknown): boolean {
    const t = this.types(s);
    if (!t) return true;
    return jsonTypesOf(v).some((x) => t.includes(x));
  }

  private regex(p: string): RegExp {
    let r = this.regexCache.get(p);
    if (!r) {
      r = new RegExp(p, 'u');
      this.regexCache.set(p, r);
    }
    return r;
  }

  private stringFits(s: JsonSchema, v: string): boolean {
    const n = lengthOf(v);
    if (typeof s.minLength === 'number' && n < s.minLength) return false;
    if (typeof s.maxLength === 'number' && n > s.maxLength) return false;
    if (typeof s.pattern === 'string' && !this.regex(s.pattern).test(v)) return false;
    if (Array.isArray(s.enum) && !s.enum.includes(v)) return false;
    return true;
  }

  private isObject(s: JsonSchema): boolean {
    return this.types(s)?.includes('object') === true;
  }

  private properties(s: JsonSchema): Record<string, JsonSchema> {
    return (s.properties ?? {}) as Record<string, JsonSchema>;
  }

  /** A map (protobuf map or Struct): an object whose values all share one schema. */
  private mapValues(s: JsonSchema): JsonSchema | undefined {
    const ap = s.additionalProperties;
    return ap && typeof ap === 'object' ? (ap as JsonSchema) : undefined;
  }

  /** The members of strict oneofs (anyOf of required), which need exactly one set. */
  private strictOneofs(s: JsonSchema): string[][] {
    const groups: JsonSchema[] = [];
    if (Array.isArray(s.anyOf)) groups.push(s);
    if (Array.isArray(s.allOf)) for (const g of s.allOf as JsonSchema[]) if (Array.isArray(g.anyOf)) groups.push(g);
    return groups.map((g) => (g.anyOf as JsonSchema[]).flatMap((a) => (a.required ?? []) as string[]));
  }

  /** The other members of the oneof `prop` belongs to. */
  private rivals(s: JsonSchema, prop: string): string[] {
    const dep = (s.dependentSchemas ?? {}) as Record<string, JsonSchema>;
    const props = (dep[prop]?.properties ?? {}) as Record<string, unknown>;
    return Object.entries(props).filter(([, v]) => v === false).map(([k]) => k);
  }

  // ---- valid values ------------------------------------------------------

  validString(s: JsonSchema, where: string): string {
    if (Array.isArray(s.enum)) return this.rng.pick(s.enum as string[]);
    const format = typeof s.format === 'string' ? s.format : undefined;
    const candidates = format ? [VALID_FORMAT[format] ?? ''] : VALID_STRINGS;
    for (const c of this.rng.shuffle(candidates)) if (this.stringFits(s, c)) return c;
    if (typeof s.minLength === 'number' && !s.pattern && !format) return 'x'.repeat(s.minLength);
    throw new Error(`${this.tool.name}: no valid string known for ${where} (${JSON.stringify(s)})`);
  }

  private validStringOrUndefined(s: JsonSchema): string | undefined {
    try {
      return Array.isArray(s.enum) ? undefined : this.validString({ ...s, maxLength: undefined }, '');
    } catch {
      return undefined;
    }
  }

  private validNumber(s: JsonSchema, integer: boolean): number {
    const { minimum, maximum } = s as Limits;
    let v = integer ? this.rng.int(0, 5) : this.rng.int(0, 50) / 4;
    if (minimum !== undefined && v < minimum) v = minimum;
    if (maximum !== undefined && v > maximum) v = maximum;
    return v;
  }

  private validKey(s: JsonSchema): string {
    const pattern = (s.propertyNames as JsonSchema | undefined)?.pattern;
    if (typeof pattern !== 'string') return this.rng.chance(0.5) ? randomIdentifier(this.rng) : this.rng.pick(['X-Forwarded-User', 'a b', 'k\u00e9y', '\ud83d\ude00', '', '0', 'a.b', '__proto__']);
    const candidates = ['true', 'false', String(this.rng.int(0, 99999)), String(-this.rng.int(1, 99999)), '0'];
    for (const c of this.rng.shuffle(candidates)) if (this.regex(pattern).test(c)) return c;
    throw new Error(`${this.tool.name}: no valid map key for ${pattern}`);
  }

  /** A minimal valid value: required fields, one member of each strict oneof, minimum counts. */
  valid(schema: JsonSchema, where: string, depth = 0): unknown {
    const s = this.resolve(schema);
    if (depth > 40) throw new Error(`${this.tool.name}: ${where} needs an endless value`);
    const types = this.types(s);
    if (!types) return 'any';
    if (Array.isArray(s.enum)) return this.rng.pick(s.enum as unknown[]);
    if (types.includes('object')) {
      const obj: Record<string, unknown> = {};
      const props = this.properties(s);
      for (const r of (s.required ?? []) as string[]) setOwn(obj, r, this.valid(props[r] ?? {}, joinPath(where, r), depth + 1));
      for (const members of this.strictOneofs(s)) {
        const m = members[0];
        if (m) setOwn(obj, m, this.valid(props[m] ?? {}, joinPath(where, m), depth + 1));
      }
      const values = this.mapValues(s);
      const need = typeof s.minProperties === 'number' ? s.minProperties : 0;
      for (let i = 0; Object.keys(obj).length < need && i < need * 4; i++) {
        const key = this.validKey(s);
        setOwn(obj, key, values ? this.valid(values, joinPath(where, key), depth + 1) : 'v');
      }
      return obj;
    }
    if (types.includes('array')) {
      const n = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: n }, (_, i) => this.valid((s.items ?? {}) as JsonSchema, joinPath(where, i), depth + 1));
    }
    if (types.includes('integer')) return this.validNumber(s, true);
    if (types.includes('number')) return this.validNumber(s, false);
    if (types.includes('string')) return this.validString(s, where);
    if (types.includes('boolean')) return this.rng.chance(0.5);
    return null;
  }

  // ---- invalid values ----------------------------------------------------

  /** One broken value for a schema position, or undefined when nothing can be broken here. */
  private breakHere(s: JsonSchema, at: string, root: boolean, huge: boolean): Broken | undefined {
    const options = this.optionsAt(s, at, root, huge);
    // Weighted order without replacement: rare options come up less often, but still when nothing else fits.
    while (options.length) {
      let r = this.rng.float() * options.reduce((n, o) => n + o.weight, 0);
      let i = 0;
      while (i < options.length - 1 && (r -= options[i]!.weight) >= 0) i++;
      const [option] = options.splice(i, 1);
      const out = option!.make();
      if (out) return out;
    }
    return undefined;
  }

  /** Every way to break the value at one position (each makes one broken value, or undefined when it cannot). */
  private optionsAt(s: JsonSchema, at: string, root: boolean, huge: boolean): Option[] {
    const types = this.types(s);
    const options: Option[] = [];
    const add = (make: () => Broken | undefined, weight = 1) => options.push({ make, weight });
    const isObj = this.isObject(s);

    if (!root && types) {
      const wrong = WRONG_TYPE_POOL.filter((v) => !this.allows(s, v));
      if (wrong.length) {
        add(() => {
          const v = this.rng.pick(wrong);
          return { kind: v === null ? 'null' : 'wrong-type', value: v, path: at };
        });
      }
      if (!types.includes('null')) add(() => ({ kind: 'null', value: null, path: at }));
    }

    if (isObj) {
      const props = this.properties(s);
      const values = this.mapValues(s);
      if (s.additionalProperties === false) {
        add(() => {
          const base = this.valid(s, at) as Record<string, unknown>;
          let key: string;
          const snake = Object.keys(props).filter((p) => camel(p) !== p && !(camel(p) in props));
          const r = this.rng.float();
          if (huge) key = `k${weirdString(this.rng, this.rng.int(2000, 20_000))}`;
          else if (r < 0.3 && snake.length) key = camel(this.rng.pick(snake));
          // A top-level "__proto__" never reaches the gateway: the MCP SDK's request parsing drops it (see withProtoKey).
          else if (r < 0.65) key = this.rng.pick(root ? ODD_KEYS.filter((k) => k !== '__proto__') : ODD_KEYS);
          else key = randomIdentifier(this.rng);
          if (Object.prototype.hasOwnProperty.call(props, key)) key = `${key}_unknown`;
          const obj = copyObject(base);
          setOwn(obj, key, this.rng.pick(WRONG_TYPE_POOL.concat(['ok', 1, true])));
          return { kind: huge ? 'huge-key' : 'unknown-property', value: obj, path: joinPath(at, key), ...(root ? { bare: key } : {}) };
        });
      }
      const required = (s.required ?? []) as string[];
      if (required.length) {
        add(() => {
          const base = copyObject(this.valid(s, at) as Record<string, unknown>);
          const r = this.rng.pick(required);
          delete base[r];
          if (this.rng.chance(0.3)) {
            // Sometimes with the field's camelCase spelling instead: still missing, and unknown too.
            const c = camel(r);
            if (c !== r && !(c in props)) setOwn(base, c, this.valid(props[r] ?? {}, at));
          }
          return { kind: 'missing-required', value: base, path: joinPath(at, r), ...(root ? { bare: r } : {}) };
        });
      }
      const dep = (s.dependentSchemas ?? {}) as Record<string, JsonSchema>;
      const members = Object.keys(dep);
      if (members.length) {
        add(() => {
          const a = this.rng.pick(members);
          const b = this.rng.pick(this.rivals(s, a));
          const obj = copyObject(this.valid(s, at) as Record<string, unknown>);
          setOwn(obj, a, this.valid(props[a] ?? {}, joinPath(at, a)));
          setOwn(obj, b, this.valid(props[b] ?? {}, joinPath(at, b)));
          return { kind: 'oneof-conflict', value: obj, path: joinPath(at, a), alts: [joinPath(at, b)] };
        });
      }
      for (const group of this.strictOneofs(s)) {
        add(() => {
          const obj = copyObject(this.valid(s, at) as Record<string, unknown>);
          for (const m of group) delete obj[m];
          return { kind: 'oneof-none', value: obj, path: at };
        });
      }
      const keyPattern = (s.propertyNames as JsonSchema | undefined)?.pattern;
      if (values && typeof keyPattern === 'string') {
        // Keys the pattern refuses, and integer keys the pattern allows but no integer type holds.
        for (const outOfRange of [false, true]) {
          add(() => {
            const candidates = outOfRange ? ['99999999999999999999999', '-99999999999999999999999', '18446744073709551616'] : ['abc', '1.5', '', ' 1', '0x10', '\u0663', '1e3', '+1', 'true ', 'TRUE', '\ud83d\ude00', '__proto__'];
            const fitting = candidates.filter((k) => this.regex(keyPattern).test(k) === outOfRange);
            if (!fitting.length) return undefined;
            const key = this.rng.pick(fitting);
            const obj = copyObject(this.valid(s, at) as Record<string, unknown>);
            setOwn(obj, key, this.valid(values, joinPath(at, key)));
            return { kind: outOfRange ? 'map-key-range' : 'map-key', value: obj, path: joinPath(at, key) };
          });
        }
      }
      if (values && typeof keyPattern !== 'string' && !this.bareNames) {
        add(() => {
          const key = `${randomIdentifier(this.rng)}${this.rng.pick(LONE_SURROGATES)}`;
          const obj = copyObject(this.valid(s, at) as Record<string, unknown>);
          setOwn(obj, key, this.valid(values, joinPath(at, key)));
          return { kind: 'invalid-utf8-key', value: obj, path: joinPath(at, key) };
        });
      }
      if (typeof s.maxProperties === 'number' && values) {
        add(() => {
          const obj: Record<string, unknown> = {};
          for (let i = 0; Object.keys(obj).length <= (s.maxProperties as number) && i < 10_000; i++) setOwn(obj, this.validKey(s), this.valid(values, at));
          return { kind: 'too-many-items', value: obj, path: at };
        });
      }
      if (typeof s.minProperties === 'number' && s.minProperties > 0) add(() => ({ kind: 'too-few-items', value: {}, path: at }));
    }

    // A JSON-valued field (google.protobuf.Struct, Value, ListValue, Any) nested past what protobuf can decode.
    const anyItems = types?.includes('array') && s.items && typeof s.items === 'object' && Object.keys(s.items).length === 0;
    if (!root && (!types || s.additionalProperties === true || anyItems)) {
      add(() => {
        const levels = this.rng.int(MAX_VALUE_DEPTH + 1, huge ? 2_000 : MAX_VALUE_DEPTH * 4);
        const outer = !types ? this.rng.pick(['object', 'array'] as const) : anyItems ? 'array' : 'object';
        let v: unknown = this.rng.pick(['leaf', 1, true, null, {}, []]);
        for (let i = 1; i < levels; i++) {
          const key = this.rng.chance(0.7) ? randomIdentifier(this.rng) : this.rng.pick(ODD_KEYS);
          const sibling = this.rng.chance(0.2) ? [this.rng.pick(WRONG_TYPE_POOL)] : [];
          v = this.rng.chance(0.5) ? Object.fromEntries([[key, v], ...sibling.map((x, j) => [`${key}_${j}`, x])]) : [...sibling, v];
        }
        const value = outer === 'array' ? [v] : { [randomIdentifier(this.rng)]: v, ...(s.required ? { '@type': 'type.googleapis.com/google.protobuf.Empty' } : {}) };
        return { kind: 'too-deep', value, path: at };
      });
    }

    if (types?.includes('array')) {
      const items = (s.items ?? {}) as JsonSchema;
      if (typeof s.minItems === 'number' && s.minItems > 0) {
        add(() => ({ kind: 'too-few-items', value: Array.from({ length: this.rng.int(0, (s.minItems as number) - 1) }, () => this.valid(items, at)), path: at }));
      }
      if (typeof s.maxItems === 'number') {
        add(() => {
          const n = (s.maxItems as number) + (huge ? this.rng.int(500, 3000) : this.rng.int(1, 3));
          return { kind: huge ? 'huge-array' : 'too-many-items', value: Array.from({ length: n }, () => this.valid(items, at)), path: at };
        });
      }
    }

    if (types?.includes('string')) {
      if (Array.isArray(s.enum)) {
        const values = s.enum as string[];
        add(() => {
          const v = this.rng.pick(values);
          const candidates = [v.toLowerCase(), `${v} `, ` ${v}`, `${v}\u200b`, v.replace(/O/g, '\u041e'), v.slice(0, -1), `${v}_X`, '', 'UNKNOWN', v.replace(/_/g, '-'), `${v}\u0000`];
          const bad = candidates.filter((c) => !values.includes(c));
          return { kind: 'enum', value: this.rng.pick(bad), path: at };
        });
      }
      if (typeof s.pattern === 'string') {
        const pattern = s.pattern;
        const bad = PATTERN_BREAKERS.filter((c) => !this.regex(pattern).test(c));
        if (bad.length) add(() => ({ kind: 'pattern', value: this.rng.pick(bad), path: at }));
        const range = RANGE_BREAKERS[pattern];
        if (range) add(() => ({ kind: 'wkt-range', value: this.rng.pick(range), path: at }));
      }
      if (typeof s.maxLength === 'number' && s.maxLength < 200_000) {
        const max = s.maxLength;
        add(() => {
          const target = huge ? Math.max(max + 1, this.rng.int(10_000, 120_000)) : max + this.rng.int(1, 50);
          // Half of them break only the length: a valid value padded with what the pattern allows.
          if (this.rng.chance(0.5)) {
            const start = this.validStringOrUndefined(s) ?? '';
            for (const pad of ['a', '0', 'x', '-', '/']) {
              const v = start + pad.repeat(Math.max(1, target - lengthOf(start)));
              if (!s.pattern || this.regex(s.pattern as string).test(v)) return { kind: huge ? 'huge-string' : 'max-length', value: v, path: at };
            }
          }
          let v = weirdString(this.rng, target);
          if (lengthOf(v) <= max) v += 'x'.repeat(max + 1 - lengthOf(v));
          return { kind: huge ? 'huge-string' : 'max-length', value: v, path: at };
        });
      }
      if (typeof s.minLength === 'number' && s.minLength > 0) add(() => ({ kind: 'min-length', value: '', path: at }));
      // protobuf strings are UTF-8: a lone surrogate cannot be encoded (JSON Schema alone cannot say so).
      if (!this.bareNames && !Array.isArray(s.enum)) {
        add(() => {
          const v = this.validStringOrUndefined(s) ?? 'x';
          const i = this.rng.int(0, v.length);
          return { kind: 'invalid-utf8', value: `${v.slice(0, i)}${this.rng.pick(LONE_SURROGATES)}${v.slice(i)}`, path: at };
        }, 0.25);
      }
      if (typeof s.format === 'string' && FORMAT_BREAKERS[s.format]) {
        const bad = FORMAT_BREAKERS[s.format]!;
        add(() => ({ kind: 'format', value: this.rng.pick(bad), path: at }));
      }
    }

    if (types?.includes('integer') || types?.includes('number')) {
      const { minimum, maximum } = s as Limits;
      const integerOnly = !types.includes('number');
      if (maximum !== undefined) {
        add(() => {
          const v = this.rng.pick([maximum + 1, maximum + this.rng.int(2, 1_000_000), maximum * 2 + 1, 1e21, 2 ** 64, 1e300].filter((x) => x > maximum));
          return { kind: 'out-of-range', value: v, path: at };
        });
      }
      if (minimum !== undefined) {
        add(() => {
          const v = this.rng.pick([minimum - 1, minimum - this.rng.int(2, 1_000_000), minimum === 0 ? -1 : minimum * 2 - 1, -1e21, -(2 ** 64), -1e300].filter((x) => x < minimum));
          return { kind: 'out-of-range', value: v, path: at };
        });
      }
      if (integerOnly) {
        add(() => {
          const lo = minimum ?? -1000;
          const hi = maximum ?? 1000;
          const base = Math.max(lo, Math.min(hi - 1, this.rng.int(Math.max(lo, -1000), Math.min(hi, 1000))));
          return { kind: 'non-integer', value: base + this.rng.pick([0.5, 0.25, 0.001, 0.999]), path: at };
        });
      }
    }

    return options;
  }

  /** Positions below a schema position where a value can be broken. */
  private children(s: JsonSchema): ('items' | 'values' | string)[] {
    const out: string[] = [];
    if (this.isObject(s)) {
      out.push(...Object.keys(this.properties(s)).map((p) => `.${p}`));
      if (this.mapValues(s)) out.push('values');
    }
    if (this.types(s)?.includes('array') && s.items && typeof s.items === 'object' && Object.keys(s.items).length && s.maxItems !== 0) out.push('items');
    return out;
  }

  /** Walks down from a position to where the value is broken; returns the whole value for this position. */
  private walk(schema: JsonSchema, at: string, depth: number, mode: { stop: number; maxDepth: number; huge: boolean }, route?: Route): Broken | undefined {
    const s = this.resolve(schema);
    const root = depth === 0;
    if (route && depth === route.kids.length) return this.optionsAt(s, at, root, false)[route.option]?.make();
    const kids = this.children(s);
    const here = () => this.breakHere(s, at, root, mode.huge);
    if (!route && (!kids.length || depth >= mode.maxDepth || this.rng.chance(root ? 0.12 : mode.stop))) {
      const out = here();
      if (out || !kids.length) return out;
    }
    // Deep mode prefers positions that lead further down.
    const ordered = route ? [route.kids[depth]!] : this.rng.shuffle(kids).sort((a, b) => (mode.stop < 0.1 ? this.children(this.resolve(this.childSchema(s, b))).length - this.children(this.resolve(this.childSchema(s, a))).length : 0));
    for (const kid of ordered.slice(0, 3)) {
      const childSchema = this.childSchema(s, kid);
      if (kid === 'items') {
        const maxItems = typeof s.maxItems === 'number' ? s.maxItems : 6;
        const minItems = typeof s.minItems === 'number' ? s.minItems : 0;
        const index = this.rng.int(0, Math.min(3, maxItems - 1));
        const inner = this.walk(childSchema, joinPath(at, index), depth + 1, mode, route);
        if (!inner) continue;
        const arr: unknown[] = Array.from({ length: index }, (_, i) => this.valid(childSchema, joinPath(at, i)));
        arr.push(inner.value);
        while (arr.length < minItems || (arr.length < maxItems && this.rng.chance(0.3))) arr.push(this.valid(childSchema, joinPath(at, arr.length)));
        return { ...inner, value: arr };
      }
      if (kid === 'values') {
        const key = this.validKey(s);
        const inner = this.walk(childSchema, joinPath(at, key), depth + 1, mode, route);
        if (!inner) continue;
        const obj = copyObject(this.valid(s, at) as Record<string, unknown>);
        setOwn(obj, key, inner.value);
        return { ...inner, value: obj };
      }
      const prop = kid.slice(1);
      const inner = this.walk(childSchema, joinPath(at, prop), depth + 1, mode, route);
      if (!inner) continue;
      const obj = copyObject(this.valid(s, at) as Record<string, unknown>);
      for (const r of this.rivals(s, prop)) delete obj[r];
      setOwn(obj, prop, inner.value);
      return { ...inner, value: obj, ...(root && inner.path === joinPath(at, prop) ? { bare: prop } : {}) };
    }
    return root && !route ? here() : undefined;
  }

  /** Every position down to `maxDepth` (a recursive message unrolled twice), with how many ways to break it. */
  private routes(maxDepth = 8): Route[] {
    const out: Route[] = [];
    const visit = (schema: JsonSchema, kids: string[], refs: string[]) => {
      const s = this.resolve(schema);
      const count = this.optionsAt(s, '', kids.length === 0, false).length;
      for (let option = 0; option < count; option++) out.push({ kids, option });
      if (kids.length >= maxDepth) return;
      for (const kid of this.children(s)) {
        const child = this.childSchema(s, kid);
        const ref = typeof child.$ref === 'string' ? child.$ref : '';
        if (ref && refs.filter((r) => r === ref).length >= 2) continue;
        visit(child, [...kids, kid], ref ? [...refs, ref] : refs);
      }
    };
    visit(this.tool.inputSchema, [], []);
    return out;
  }

  /** One invalid argument object for every position and every way to break it there. */
  sweep(): InvalidCase[] {
    const out: InvalidCase[] = [];
    for (const route of this.routes()) {
      const c = this.finish(this.walk(this.tool.inputSchema, '', 0, { stop: 0, maxDepth: 0, huge: false }, route));
      if (c) out.push(c);
    }
    return out;
  }

  private childSchema(s: JsonSchema, kid: string): JsonSchema {
    if (kid === 'items') return (s.items ?? {}) as JsonSchema;
    if (kid === 'values') return this.mapValues(s) ?? {};
    return this.properties(s)[kid.slice(1)] ?? {};
  }

  /** One argument object that breaks one rule somewhere. */
  invalid(): InvalidCase | undefined {
    const r = this.rng.float();
    // Mostly a short walk; sometimes as deep as the schema goes (a recursive message: dozens of levels); sometimes huge values.
    const mode = r < 0.15 ? { stop: 0.02, maxDepth: this.rng.int(8, 60), huge: false } : r < 0.18 ? { stop: 0.5, maxDepth: 6, huge: true } : { stop: 0.4, maxDepth: 12, huge: false };
    return this.finish(this.walk(this.tool.inputSchema, '', 0, mode));
  }

  private finish(out: Broken | undefined): InvalidCase | undefined {
    if (!out || !out.value || typeof out.value !== 'object' || Array.isArray(out.value)) return undefined;
    const paths = [out.path, ...(out.alts ?? [])];
    const mentions = paths.map((p) => `${p || '(arguments)'}: `);
    // A hand-written validator names a top-level field as it was sent, or quoted.
    if (this.bareNames && out.bare !== undefined) mentions.push(...(out.bare ? [`${out.bare}: `] : []), `${JSON.stringify(out.bare)}: `);
    const depth = (out.path.match(/[.[]/g) ?? []).length;
    const kind = depth >= 5 ? `deep-${out.kind}` : out.kind;
    return { tool: this.tool.name, kind, args: out.value as Record<string, unknown>, path: out.path, paths, mentions };
  }

  /** Values on the edge of the schema at one position of an otherwise minimal valid argument object. */
  edge(): EdgeCase | undefined {
    const root = this.resolve(this.tool.inputSchema);
    const props = this.properties(root);
    const names = Object.keys(props);
    const base = copyObject(this.valid(root, '') as Record<string, unknown>);
    if (!names.length) return { tool: this.tool.name, kind: 'edge-minimal', args: base };
    const prop = this.rng.pick(names);
    const s = this.resolve(props[prop]!);
    const types = this.types(s) ?? [];
    const candidates: [string, unknown][] = [];
    const { minimum, maximum } = s as Limits;
    if (types.includes('null')) candidates.push(['edge-null', null]);
    if (Array.isArray(s.enum)) for (const v of s.enum as unknown[]) candidates.push(['edge-enum', v]);
    else if (types.includes('string')) {
      const pattern = typeof s.pattern === 'string' ? s.pattern : undefined;
      if (pattern === INT64_PATTERN) candidates.push(['edge-int64', '9223372036854775807'], ['edge-int64', '-9223372036854775808'], ['edge-int64', '-0']);
      else if (pattern === UINT64_PATTERN) candidates.push(['edge-int64', '18446744073709551615'], ['edge-int64', '00000000000000000001']);
      else if (pattern === TIMESTAMP_PATTERN) candidates.push(['edge-timestamp', '0001-01-01T00:00:00Z'], ['edge-timestamp', '9999-12-31T23:59:59.999999999Z'], ['edge-timestamp', '2024-02-29T12:00:00+14:00']);
      else if (pattern === DURATION_PATTERN) candidates.push(['edge-duration', '0.000000001s'], ['edge-duration', '-0s'], ['edge-duration', '1.5s']);
      else if (pattern === SPECIAL_NUMBER_PATTERN) candidates.push(['edge-float', 'NaN'], ['edge-float', '-Infinity']);
      else if (!pattern && !s.format) {
        const max = typeof s.maxLength === 'number' ? Math.min(s.maxLength, 20_000) : 20_000;
        let v = weirdString(this.rng, this.rng.int(1, max));
        while (lengthOf(v) > max) v = [...v].slice(0, max).join('');
        if (this.stringFits(s, v)) candidates.push(['edge-unicode', v]);
        if (this.stringFits(s, ' ')) candidates.push(['edge-blank', ' '.repeat(this.rng.int(1, 3))]);
      } else candidates.push(['edge-string', this.validString(s, prop)]);
    }
    if (types.includes('integer') || types.includes('number')) {
      if (minimum !== undefined) candidates.push(['edge-number', minimum]);
      if (maximum !== undefined && maximum <= Number.MAX_SAFE_INTEGER) candidates.push(['edge-number', maximum]);
      if (types.includes('number') && minimum === undefined) candidates.push(['edge-number', -0], ['edge-number', 5e-324], ['edge-number', 1.7976931348623157e308]);
    }
    if (types.includes('boolean')) candidates.push(['edge-bool', true]);
    if (!candidates.length) return undefined;
    const [kind, value] = this.rng.pick(candidates);
    setOwn(base, prop, value);
    for (const r of this.rivals(root, prop)) delete base[r];
    return { tool: this.tool.name, kind, args: base };
  }
}

/** A minimal valid argument object plus a top-level "__proto__" key (JSON.parse makes it an own property). */
export function withProtoKey(base: Record<string, unknown>, value: unknown): Record<string, unknown> {
  const out = copyObject(base);
  setOwn(out, '__proto__', value);
  return out;
}

/** Arguments that are not an object at all: the MCP layer, not a tool, must refuse them. */
export const NOT_AN_OBJECT: unknown[] = ['x', 42, true, null, [], [{ service: 'gitea' }]];
