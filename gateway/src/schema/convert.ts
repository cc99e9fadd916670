import { ScalarType, fromJson, type DescField, type DescMessage, type JsonValue, type Registry } from '@bufbuild/protobuf';
import { joinPath, type Violation } from './validator.js';

const RANGE: Partial<Record<ScalarType, string>> = {
  [ScalarType.INT64]: 'must be between -9223372036854775808 and 9223372036854775807',
  [ScalarType.SINT64]: 'must be between -9223372036854775808 and 9223372036854775807',
  [ScalarType.SFIXED64]: 'must be between -9223372036854775808 and 9223372036854775807',
  [ScalarType.UINT64]: 'must be between 0 and 18446744073709551615',
  [ScalarType.FIXED64]: 'must be between 0 and 18446744073709551615',
  [ScalarType.FLOAT]: 'is out of range for a 32-bit float',
};

const WKT_MESSAGES: Record<string, string> = {
  'google.protobuf.Timestamp': 'must be an RFC 3339 timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z',
  'google.protobuf.Duration': 'must be a duration between -315576000000s and 315576000000s',
  'google.protobuf.FieldMask': 'must be comma-separated lowerCamelCase field paths',
  'google.protobuf.Any': 'must name a message type the shard knows in "@type" and hold its fields',
};

function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/^cannot decode [^:]+ from JSON: /, '');
}

function fails(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err ?? new Error('invalid');
  }
}

function leafMessage(field: DescField, err: unknown): string {
  const scalar = field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar') ? field.scalar : field.fieldKind === 'map' && field.mapKind === 'scalar' ? field.scalar : undefined;
  if (scalar !== undefined && RANGE[scalar]) return RANGE[scalar];
  const msg = field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') || (field.fieldKind === 'map' && field.mapKind === 'message') ? field.message : undefined;
  return (msg && WKT_MESSAGES[msg.typeName]) || reason(err);
}

/**
 * Finds which field a protobuf conversion error is about. Only values that
 * passed the JSON Schema get here (a 64-bit number past its range, a year 0
 * timestamp), and this runs only on that error path: each field is converted
 * alone until the failing one is found, descending into nested messages.
 */
export function locateConversionError(desc: DescMessage, json: unknown, registry: Registry, path: string, err: unknown): Violation {
  if (json && typeof json === 'object' && !Array.isArray(json) && !desc.typeName.startsWith('google.protobuf.')) {
    for (const [key, value] of Object.entries(json)) {
      const field = desc.fields.find((f) => f.name === key);
      if (!field) continue;
      const fieldErr = fails(() => fromJson(desc, { [key]: value } as JsonValue, { registry }));
      if (!fieldErr) continue;
      const at = joinPath(path, key);
      if (field.fieldKind === 'message') return locateConversionError(field.message, value, registry, at, fieldErr);
      if (field.fieldKind === 'list' && Array.isArray(value)) {
        for (const [i, item] of value.entries()) {
          const itemErr = fails(() => fromJson(desc, { [key]: [item] } as JsonValue, { registry }));
          if (!itemErr) continue;
          if (field.listKind === 'message') return locateConversionError(field.message, item, registry, joinPath(at, i), itemErr);
          return { path: joinPath(at, i), message: leafMessage(field, itemErr) };
        }
      }
      if (field.fieldKind === 'map' && value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          const entryErr = fails(() => fromJson(desc, { [key]: { [k]: v } } as JsonValue, { registry }));
          if (!entryErr) continue;
          if (reason(entryErr).startsWith('invalid map key')) return { path: joinPath(at, k), message: `is not a valid key: ${RANGE[field.mapKey] ?? reason(entryErr)}` };
          if (field.mapKind === 'message') return locateConversionError(field.message, v, registry, joinPath(at, k), entryErr);
          return { path: joinPath(at, k), message: leafMessage(field, entryErr) };
        }
      }
      return { path: at, message: leafMessage(field, fieldErr) };
    }
  }
  return { path, message: WKT_MESSAGES[desc.typeName] ?? reason(err) };
}

type Segment = { kind: 'field'; name: string } | { kind: 'each' };

export function parseSecretPath(path: string): Segment[] {
  return path
    .replace(/\[\*\]/g, '.*')
    .split('.')
    .map((s) => (s === '*' ? { kind: 'each' } : { kind: 'field', name: s }));
}

export const REDACTED = '[REDACTED]';

/** Every string inside a value replaced by the marker; other values keep their type, so the output schema still holds. */
function redactValue(v: unknown): unknown {
  if (typeof v === 'string') return v ? REDACTED : v;
  if (Array.isArray(v)) return v.map(redactValue);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactValue(x)]));
  return v;
}

/** Redacts the values at the given paths (from secretPaths); the JSON is changed in place. */
export function redactPaths(json: unknown, paths: Segment[][]): void {
  const visit = (node: unknown, segs: Segment[]) => {
    if (!node || typeof node !== 'object') return;
    const [head, ...rest] = segs;
    if (!head) return;
    if (head.kind === 'each') {
      for (const child of Array.isArray(node) ? node : Object.values(node)) visit(child, rest);
      return;
    }
    const obj = node as Record<string, unknown>;
    if (!(head.name in obj)) return;
    if (rest.length === 0) {
      obj[head.name] = redactValue(obj[head.name]);
    } else {
      visit(obj[head.name], rest);
    }
  };
  for (const p of paths) visit(json, p);
}
