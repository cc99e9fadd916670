import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import * as yaml from 'js-yaml';
import { upstreamFixture } from '../fixtures.js';

export type AuthentikVersion = '2026.8.3' | '2026.2.6';

interface OpenApi {
  components: { schemas: Record<string, unknown> };
  paths: Record<string, unknown>;
}

const docs = new Map<AuthentikVersion, { doc: OpenApi; ajv: Ajv; validators: Map<string, ValidateFunction> }>();
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

/** Authentik's own OpenAPI schema of a release, parsed once per process. */
function load(version: AuthentikVersion) {
  let entry = docs.get(version);
  if (!entry) {
    const file = upstreamFixture(`authentik/authentik-schema-${version}.yml`);
    const doc = yaml.load(readFileSync(file, 'utf8')) as OpenApi;
    // OpenAPI 3.0: `nullable` is understood by ajv; unknown formats and vendor keywords are not errors.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    ajv.addSchema({ $id: 'authentik', components: forAjv(doc.components) }, 'authentik');
    entry = { doc, ajv, validators: new Map() };
    docs.set(version, entry);
  }
  return entry;
}

/**
 * OpenAPI 3.0's `nullable` beside `allOf`/`$ref` (no `type`), which ajv
 * refuses, becomes `anyOf: [schema, null]`; the document itself is untouched.
 */
function forAjv(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forAjv);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = forAjv(v);
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _nullable, description, ...rest } = out;
    return { ...(description !== undefined ? { description } : {}), anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

export function hasPath(version: AuthentikVersion, path: string): boolean {
  return path in load(version).doc.paths;
}

/**
 * Validates a body against a component schema of the release, e.g.
 * "BrandRequest". Returns DRF-style field errors ({field: [msg]}) or undefined.
 */
export function validateBody(version: AuthentikVersion, schema: string, body: unknown, partial = false): Record<string, string[]> | undefined {
  return toDrfErrors(schemaErrors(version, schema, body, partial));
}

function schemaErrors(version: AuthentikVersion, schema: string, body: unknown, partial = false): ErrorObject[] {
  const entry = load(version);
  const key = `${schema}${partial ? ':partial' : ''}`;
  let validate = entry.validators.get(key);
  if (!validate) {
    const ref = { $ref: `authentik#/components/schemas/${schema}` };
    validate = entry.ajv.compile(partial ? ref : ref);
    entry.validators.set(key, validate);
  }
  return validate(body) ? [] : [...(validate.errors ?? [])];
}

function toDrfErrors(list: ErrorObject[]): Record<string, string[]> | undefined {
  if (list.length === 0) return undefined;
  const errors: Record<string, string[]> = {};
  for (const e of list) {
    const { field, message } = drfMessage(e);
    (errors[field] ??= []).push(message);
  }
  return errors;
}

function drfMessage(e: ErrorObject): { field: string; message: string } {
  const path = e.instancePath.split('/').filter(Boolean);
  if (e.keyword === 'required') return { field: String(e.params.missingProperty), message: 'This field is required.' };
  const field = path[0] ?? 'non_field_errors';
  if (e.keyword === 'type' && e.params.type === 'string') return { field, message: 'Not a valid string.' };
  if (e.keyword === 'enum') return { field, message: `"${String(path.length ? '' : '')}" is not a valid choice.`.replace('""', 'This') };
  if (e.keyword === 'pattern') return { field, message: 'Enter a valid value.' };
  if (e.keyword === 'format' && e.params.format === 'uri') return { field, message: 'Enter a valid URL.' };
  if (e.keyword === 'format' && e.params.format === 'uuid') return { field, message: 'Must be a valid UUID.' };
  return { field, message: e.message ?? 'Invalid value.' };
}

type SchemaNode = { $ref?: string; allOf?: SchemaNode[]; type?: string; nullable?: boolean; enum?: unknown[]; required?: string[]; properties?: Record<string, SchemaNode>; readOnly?: boolean };

function resolve(doc: OpenApi, node: SchemaNode | undefined): SchemaNode | undefined {
  if (!node) return undefined;
  if (node.$ref) return resolve(doc, doc.components.schemas[node.$ref.split('/').pop() ?? ''] as SchemaNode);
  if (node.allOf?.length === 1) return { ...resolve(doc, node.allOf[0]), ...(node.nullable ? { nullable: true } : {}) };
  return node;
}

function emptyValue(node: SchemaNode | undefined): unknown {
  if (!node) return null;
  if (node.nullable) return null;
  if (node.enum?.length) return node.enum[0];
  switch (node.type) {
    case 'array':
      return [];
    case 'object':
      return {};
    case 'string':
      return '';
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return 0;
    default:
      return null;
  }
}

/**
 * Fills the required fields of a response object that the stand-in does not
 * model with the empty value of their schema type, so every response carries
 * what the release's schema (and the generated client) requires.
 */
export function completeResponse<T extends Record<string, unknown>>(version: AuthentikVersion, schema: string, obj: T): T {
  const doc = load(version).doc;
  const node = resolve(doc, doc.components.schemas[schema] as SchemaNode);
  const out: Record<string, unknown> = { ...obj };
  for (const key of node?.required ?? []) if (!(key in out)) out[key] = emptyValue(resolve(doc, node?.properties?.[key]));
  assertResponse(version, schema, out);
  return out as T;
}

/** The stand-in answering outside the release's schema: a bug in the stand-in, never sent. */
export class ContractDriftError extends Error {
  constructor(schema: string, version: AuthentikVersion, problems: Record<string, string[]>) {
    super(`stand-in response does not match ${schema} of Authentik ${version}: ${JSON.stringify(problems)}`);
    this.name = 'ContractDriftError';
  }
}

/** Validates a response body against the release's schema; throws ContractDriftError when it does not match. */
export function assertResponse(version: AuthentikVersion, schema: string, body: unknown): void {
  // Authentik's quirk: an unset URL field (a blank Django field) is answered as "", although the schema says format uri.
  const errors = schemaErrors(version, schema, body).filter((e) => !(e.keyword === 'format' && valueAt(body, e.instancePath) === ''));
  const problems = toDrfErrors(errors);
  if (problems) throw new ContractDriftError(schema, version, problems);
}

function valueAt(body: unknown, pointer: string): unknown {
  let v = body;
  for (const part of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}
