/** Keywords whose value is one schema, a list of schemas, or a map of schemas. */
const ONE = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'];
const LIST = ['anyOf', 'allOf', 'oneOf', 'prefixItems'];
const MAP = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'];

/**
 * What some MCP clients refuse in a tool's input schema (the portability
 * check of the MCP Inspector): a bare boolean where a schema belongs, other
 * than `additionalProperties: false`, and `type` given as an array.
 */
export function portabilityProblems(schema: unknown, at = '#'): string[] {
  if (typeof schema === 'boolean') return [`${at}: boolean subschema`];
  if (!schema || typeof schema !== 'object') return [];
  const s = schema as Record<string, unknown>;
  const out: string[] = [];
  if (Array.isArray(s.type)) out.push(`${at}/type: type array ${JSON.stringify(s.type)}`);
  for (const k of ONE) {
    if (!(k in s)) continue;
    if (k === 'additionalProperties' && s[k] === false) continue;
    out.push(...portabilityProblems(s[k], `${at}/${k}`));
  }
  for (const k of LIST) if (Array.isArray(s[k])) (s[k] as unknown[]).forEach((v, i) => out.push(...portabilityProblems(v, `${at}/${k}/${i}`)));
  for (const k of MAP) {
    if (s[k] && typeof s[k] === 'object') for (const [name, v] of Object.entries(s[k] as object)) out.push(...portabilityProblems(v, `${at}/${k}/${name}`));
  }
  return out;
}
