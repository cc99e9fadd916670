import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { toSnakeCase } from '../discovery/tool-names.js';
import { commentOf } from './comments.js';
import { messageJsonSchema, type JsonSchemaObject } from './json-schema.js';
import { createOptionReaders } from './options.js';

export type { JsonSchemaObject };

/** Everything the gateway needs to offer and call one RPC as an MCP tool. */
export interface ToolSpec {
  name: string;
  method: DescMethod;
  title?: string;
  description: string;
  annotations: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean; title?: string };
  requiresConfirmation: boolean;
  timeoutMs?: number;
  maxTimeoutMs?: number;
  streaming: boolean;
  inputSchema: JsonSchemaObject;
  outputSchema: JsonSchemaObject;
  /** Message-qualified names of (homelab.mcp.v1.field).secret fields, e.g. "pkg.Req.token". */
  secretFields: string[];
}

/** Arguments that do not fit the tool's schema; each violation names the field. */
export class InvalidArgumentsError extends Error {
  constructor(readonly violations: { path: string; message: string }[]) {
    super(violations.map((v) => `${v.path || '(arguments)'}: ${v.message}`).join('; '));
    this.name = 'InvalidArgumentsError';
  }
}

// One validator for every tool of every shard; schemas are compiled once, when a shard's contract is read.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validators = new WeakMap<ToolSpec, ValidateFunction>();

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function describeAjvError(e: ErrorObject): { path: string; message: string } {
  const path = pointerToPath(e.instancePath);
  const join = (child: string) => (path ? `${path}.${child}` : child);
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: join(String(e.params.additionalProperty)), message: 'unknown field (check the spelling: field names are snake_case as in the schema)' };
    case 'required':
      return { path: join(String(e.params.missingProperty)), message: 'is required' };
    case 'enum':
      return { path, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'not':
      return { path, message: 'sets more than one member of a oneof group: choose one' };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

function toolOf(registry: FileRegistry, method: DescMethod) {
  const options = createOptionReaders(registry);
  const opts = options.tool(method);
  const input = messageJsonSchema(method.input, options, true);
  const output = messageJsonSchema(method.output, options, false);
  const description = commentOf(method) || `${method.parent.name}.${method.name}`;
  const annotations: ToolSpec['annotations'] = {};
  if (opts.title) annotations.title = opts.title;
  if (opts.readOnly !== undefined) annotations.readOnlyHint = opts.readOnly;
  if (opts.destructive !== undefined) annotations.destructiveHint = opts.destructive;
  if (opts.idempotent !== undefined) annotations.idempotentHint = opts.idempotent;
  if (opts.openWorld !== undefined) annotations.openWorldHint = opts.openWorld;
  const spec: ToolSpec = {
    name: toSnakeCase(method.name),
    method,
    ...(opts.title ? { title: opts.title } : {}),
    description,
    annotations,
    requiresConfirmation: Boolean(opts.requiresConfirmation),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.maxTimeoutMs ? { maxTimeoutMs: opts.maxTimeoutMs } : {}),
    streaming: method.methodKind === 'server_streaming',
    inputSchema: input.schema,
    outputSchema: output.schema,
    secretFields: input.secretPaths,
  };
  validators.set(spec, ajv.compile(spec.inputSchema));
  return spec;
}

/** One ToolSpec per unary or server-streaming RPC of the service, schemas compiled once. */
export function buildToolSpecs(registry: FileRegistry, serviceName: string): ToolSpec[] {
  const service = registry.getService(serviceName);
  if (!service) throw new Error(`service ${serviceName} is not in the shard's descriptors`);
  return service.methods
    .filter((m) => m.methodKind === 'unary' || m.methodKind === 'server_streaming')
    .map((m) => toolOf(registry, m));
}

/** Validates the arguments against the tool's schema and encodes them as the request message. */
export function encodeRequest(spec: ToolSpec, args: unknown): Uint8Array {
  const value = args ?? {};
  const validate = validators.get(spec) ?? ajv.compile(spec.inputSchema);
  if (!validate(value)) throw new InvalidArgumentsError((validate.errors ?? []).map(describeAjvError));
  try {
    return toBinary(spec.method.input, fromJson(spec.method.input, value as JsonValue, { ignoreUnknownFields: false }));
  } catch (err) {
    // Only what JSON Schema cannot say reaches here, e.g. a 64-bit value out of range.
    const message = err instanceof Error ? err.message : String(err);
    const field = /field ([\w.]+)/.exec(message)?.[1]?.split('.').pop();
    throw new InvalidArgumentsError([{ path: field ?? '', message: message.replace(/^cannot decode [^:]+: /, '') }]);
  }
}

/** The response message as proto3 JSON with the .proto field names (what outputSchema describes). */
export function decodeResponse(spec: ToolSpec, bytes: Uint8Array): Record<string, unknown> {
  const msg = fromBinary(spec.method.output, bytes);
  return toJson(spec.method.output, msg, { useProtoFieldName: true, alwaysEmitImplicit: true }) as Record<string, unknown>;
}

/**
 * Merges the messages of a server stream into one: concatenated protobuf
 * messages parse as their merge (repeated fields append, maps merge, singular
 * fields keep the last value).
 */
export function mergeResponses(_spec: ToolSpec, chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

const TEXT_LIMIT = 16_000;

/** A short readable rendering for the text content: the message line first, then the result as JSON. */
export function summarizeResult(_spec: ToolSpec, json: Record<string, unknown>): string {
  const lead = typeof json.message === 'string' && json.message ? `${json.message}\n` : '';
  const body = JSON.stringify(json, null, 1);
  const text = lead + body;
  return text.length <= TEXT_LIMIT ? text : `${text.slice(0, TEXT_LIMIT)}\n… (${text.length - TEXT_LIMIT} more characters in structuredContent)`;
}
