import { createHash } from 'node:crypto';

/** The request field that carries a plan's id, as the .proto names it. */
export const PLAN_ID_FIELD = 'plan_id';
/** The same field's proto3 JSON name. */
export const PLAN_ID_JSON_NAME = 'planId';

/** JSON with the keys of every object sorted, so equal values give equal text whatever order they were built in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .flatMap((k) => {
        const v = (value as Record<string, unknown>)[k];
        return v === undefined ? [] : [`${JSON.stringify(k)}:${canonicalJson(v)}`];
      });
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a plan is bound to: the SHA-256 of a request in proto3 JSON (JSON
 * field names, default values left out: what both @bufbuild/protobuf's
 * `toJson` and ts-proto's generated `toJSON` emit), without its plan id, with
 * sorted keys. A dry run and its apply differ only in the plan id, so they
 * bind to the same value; any other difference in the arguments does not.
 */
export function bindRequest(requestJson: unknown): string {
  const fields = requestJson !== null && typeof requestJson === 'object' && !Array.isArray(requestJson) ? { ...(requestJson as Record<string, unknown>) } : {};
  delete fields[PLAN_ID_JSON_NAME];
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}
