import { createHash } from 'node:crypto';
import { validateToolName } from '@modelcontextprotocol/sdk/shared/toolNameValidation.js';

/** The alphabet and length many clients still require: narrower than MCP's own rule (dots, 128 characters). */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Why a name is not one every client takes (MCP's rule as the SDK checks it, its warnings included, then the narrower pattern), or undefined. */
export function toolNameProblem(name: string): string | undefined {
  const checked = validateToolName(name);
  if (!checked.isValid || checked.warnings.length) return checked.warnings[0] ?? 'not a valid tool name';
  return TOOL_NAME_PATTERN.test(name) ? undefined : 'Tool names here are at most 64 letters, digits, underscores and dashes';
}

/** GetRoutes -> get_routes, CheckSSLStatus -> check_ssl_status. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
}

/** Forces a name into the alphabet and length every client takes (toolNameProblem), keeping it unique by a short hash when cut. */
export function fitToolName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^-+|-+$/g, '') || 'tool';
  if (cleaned.length <= 64) return cleaned;
  const suffix = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${cleaned.slice(0, 55)}_${suffix}`;
}

export interface NamedTool<T> {
  shard: string;
  base: string;
  item: T;
}

/**
 * Assigns final names: the snake_case RPC name, or `<shard>_<name>` for every
 * tool whose name more than one shard (or a reserved gateway tool) uses. The
 * result depends only on the inputs, never on their order.
 */
export function assignToolNames<T>(tools: NamedTool<T>[], reserved: ReadonlySet<string>): Map<string, NamedTool<T>> {
  const owners = new Map<string, Set<string>>();
  for (const t of tools) {
    const set = owners.get(t.base) ?? new Set<string>();
    set.add(t.shard);
    owners.set(t.base, set);
  }
  const sorted = [...tools].sort((a, b) => (a.shard === b.shard ? a.base.localeCompare(b.base) : a.shard.localeCompare(b.shard)));
  const out = new Map<string, NamedTool<T>>();
  for (const t of sorted) {
    const collides = (owners.get(t.base)?.size ?? 0) > 1 || reserved.has(t.base);
    let name = fitToolName(collides ? `${toSnakeCase(t.shard)}_${t.base}` : t.base);
    for (let i = 2; out.has(name) || reserved.has(name); i++) name = fitToolName(`${name}_${i}`);
    out.set(name, t);
  }
  return out;
}
