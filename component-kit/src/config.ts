import { z } from 'zod';

/** A configuration error that names the variable and shows a valid example. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string, example?: string) {
    super(`${variable}: ${problem}${example ? ` (example: ${variable}=${example})` : ''}`);
    this.name = 'ConfigError';
  }
}

/**
 * What a variable's schema says about it (`.meta({ examples, description })`):
 * its first example, with the description as a note. Wrappers (optional,
 * default, pipes, intersections) are looked through.
 */
export function exampleOf(schema: z.ZodType, variable: string): string | undefined {
  const field = fieldOf(schema, variable);
  for (let s: z.ZodType | undefined = field; s; s = innerOf(s)) {
    const meta = z.globalRegistry.get(s);
    const example = meta?.examples;
    if (Array.isArray(example) && example.length > 0) return `${String(example[0])}${meta?.description ? ` (${meta.description})` : ''}`;
  }
  return undefined;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; left?: z.ZodType; right?: z.ZodType; in?: z.ZodType; innerType?: z.ZodType; catchall?: z.ZodType };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

function innerOf(s: z.ZodType): z.ZodType | undefined {
  const def = defOf(s);
  return def.innerType ?? def.in;
}

function fieldOf(schema: z.ZodType | undefined, variable: string): z.ZodType | undefined {
  if (!schema) return undefined;
  const def = defOf(schema);
  if (def.type === 'object') return def.shape?.[variable] ?? def.catchall;
  if (def.type === 'intersection') return fieldOf(def.left, variable) ?? fieldOf(def.right, variable);
  return fieldOf(innerOf(schema), variable);
}

/** Throws a ConfigError for `variable`, with the example its schema gives. */
export function failConfig(schema: z.ZodType, variable: string, problem: string): never {
  throw new ConfigError(variable, problem, exampleOf(schema, variable));
}

/**
 * Parses the environment with a zod schema once and freezes the result. The
 * first problem becomes a ConfigError naming the variable, with the example
 * from the schema's metadata.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): Readonly<z.output<S>> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return deepFreeze(parsed.data);
  const issue = parsed.error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  const problem = issue?.code === 'invalid_type' && env[variable] === undefined ? 'is required' : (issue?.message ?? 'is invalid');
  return failConfig(schema, variable, problem);
}

/** Freezes a parsed configuration all the way down (Sets and Maps stay as they are). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Set) && !(value instanceof Map)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
