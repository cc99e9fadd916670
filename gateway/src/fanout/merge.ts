import type { MergeOptions } from '../schema/index.js';

/** One instance's decoded answer (proto3 JSON with .proto names), or why it has none. */
export interface InstancePart {
  node: string;
  json?: Record<string, unknown>;
  content?: Record<string, unknown>[];
  error?: string;
}

/** What a merge made: the answer, and what the caller should know about it. */
export interface Merged {
  json: Record<string, unknown>;
  content: Record<string, unknown>[];
  /** The FleetReport as proto3 JSON. */
  fleet: { partial: boolean; instances: { node: string; ok: boolean; error: string; items: number }[] };
  /** Items dropped to keep to the caller's limit. */
  cut: number;
}

type Json = unknown;

function getPath(value: Json, path: string): Json {
  let v = value;
  for (const key of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, Json>)[key] : undefined;
  return v;
}

function setPath(value: Record<string, Json>, path: string, to: Json): void {
  const keys = path.split('.');
  let v: Record<string, Json> = value;
  for (const key of keys.slice(0, -1)) {
    const next = v[key];
    if (!next || typeof next !== 'object') return;
    v = next as Record<string, Json>;
  }
  v[keys.at(-1)!] = to;
}

const isNumeric = (v: Json): boolean => typeof v === 'number' || (typeof v === 'string' && /^-?\d+$/.test(v));

/** Order of two sort keys: numbers (64-bit ones are strings in proto3 JSON) by value, other strings (timestamps too) by text. */
function compareKeys(a: Json, b: Json): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (isNumeric(a) && isNumeric(b)) {
    const x = BigInt(typeof a === 'number' ? Math.trunc(a) : (a as string));
    const y = BigInt(typeof b === 'number' ? Math.trunc(b) : (b as string));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const s = String(a ?? '');
  const t = String(b ?? '');
  return s < t ? -1 : s > t ? 1 : 0;
}

/**
 * Two values of the same field from two instances, combined as the contract's
 * MergeOptions say for the fields besides the items: numbers summed (64-bit
 * ones stay strings), booleans or-ed, lists concatenated, maps and messages
 * merged field by field, strings joined when they differ.
 */
function combine(a: Json, b: Json): Json {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'string' && typeof b === 'string') {
    if (isNumeric(a) && isNumeric(b)) return (BigInt(a) + BigInt(b)).toString();
    const parts = [...new Set([...a.split('; '), ...b.split('; ')].filter(Boolean))];
    return parts.join('; ');
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return a || b;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const out: Record<string, Json> = { ...(a as Record<string, Json>) };
    for (const [k, v] of Object.entries(b as Record<string, Json>)) out[k] = combine(out[k], v);
    return out;
  }
  return b;
}

/**
 * Merges the answers of every instance into one: the items concatenated with
 * each one's node set, sorted, cut to `limit` (0: none); the other fields
 * combined. Instances without an answer make the result partial.
 */
export function mergeParts(parts: readonly InstancePart[], opts: MergeOptions, limit: number, skip: readonly string[] = []): Merged {
  const items: { key: Json; item: Json; order: number }[] = [];
  let json: Record<string, Json> = {};
  const content: Record<string, unknown>[] = [];
  const instances: Merged['fleet']['instances'] = [];
  for (const part of parts) {
    if (!part.json) {
      instances.push({ node: part.node, ok: false, error: part.error ?? 'no answer', items: 0 });
      continue;
    }
    const own = (part.json[opts.items] as Json[] | undefined) ?? [];
    for (const item of own) {
      if (opts.nodeField && item && typeof item === 'object') setPath(item as Record<string, Json>, opts.nodeField, part.node);
      items.push({ key: opts.sortBy ? getPath(item, opts.sortBy) : undefined, item, order: items.length });
    }
    instances.push({ node: part.node, ok: true, error: '', items: own.length });
    const rest = Object.fromEntries(Object.entries(part.json).filter(([k]) => k !== opts.items && !skip.includes(k)));
    json = combine(json, rest) as Record<string, Json>;
    content.push(...(part.content ?? []));
  }
  if (opts.sortBy) {
    const sign = opts.descending ? -1 : 1;
    items.sort((a, b) => sign * compareKeys(a.key, b.key) || a.order - b.order);
  }
  const kept = limit > 0 ? items.slice(0, limit) : items;
  json[opts.items] = kept.map((i) => i.item);
  return { json, content, fleet: { partial: instances.some((i) => !i.ok), instances }, cut: items.length - kept.length };
}
