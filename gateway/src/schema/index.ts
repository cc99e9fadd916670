import { fromBinary, fromJson, isFieldSet, toBinary, toJson, type DescField, type DescMethod, type FileRegistry, type JsonValue, type Message } from '@bufbuild/protobuf';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { toSnakeCase } from '../discovery/tool-names.js';
import { commentOf } from './comments.js';
import { locateConversionError, parseSecretPath, redactPaths } from './convert.js';
import { findTooDeep } from './depth.js';
import { ContractError, SchemaBuilder, portableSchema, secretPaths, type JsonSchemaObject } from './json-schema.js';
import { createOptionReaders, type FanOutOptions } from './options.js';
import { renderResult } from './summarize.js';
import { surfaceMethods } from './surface.js';
import { compileSchema, describeErrors, isKnownFormat, type Violation } from './validator.js';

/*
 * The mapping, decided once for every shard (the schemas are what a model reads):
 * - One spelling: the .proto field names (snake_case), in and out; camelCase keys are unknown fields.
 * - 64-bit integers are decimal strings (JSON integers up to 2^53 are accepted on input);
 *   floats are numbers or the strings "NaN", "Infinity", "-Infinity"; bytes are base64.
 * - Enums by value name; the zero value stays allowed (contracts give it a meaning such as
 *   "both streams"), except for a required enum.
 * - A oneof allows at most one member, exactly one when one of its members is marked required.
 * - Well-known types in their proto3 JSON forms; wrappers are nullable scalars.
 * - Output is what decodeResponse emits: every implicit field with its zero value.
 */
export type { JsonSchemaObject, Violation };
export { MAX_MESSAGE_DEPTH, MAX_VALUE_DEPTH } from './depth.js';
export { ContractError, portableSchema };
export { createOptionReaders, type FanOutOptions, type MergeOptions, type RouteOptions } from './options.js';
export { buildSurfaceSpec, decodeAnswer, encodeJsonRequest, encodeStringRequest, matchTemplate, type PromptSpec, type ResourceSpec, type RpcRef, type SurfaceSpec } from './surface.js';

/**
 * Everything the gateway needs to offer and call one RPC as an MCP tool.
 *
 * JSON spelling, in and out: the field names as written in the .proto
 * (snake_case), proto3 JSON values otherwise (64-bit integers as strings,
 * enums by name, bytes as base64, well-known types in their JSON forms).
 */
export interface ToolSpec {
  /** snake_case of the RPC name, e.g. "get_routes". */
  name: string;
  method: DescMethod;
  title?: string;
  /** The RPC's leading comment. */
  description: string;
  annotations: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean; title?: string };
  requiresConfirmation: boolean;
  timeoutMs?: number;
  maxTimeoutMs?: number;
  /** The RPC (by its name in the service) that shows whether a call of this tool took effect. */
  verifyWith?: string;
  /** Server-streaming: the responses are merged with mergeResponses. */
  streaming: boolean;
  /** A bidirectional RPC that asks the client mid-call: the request's ClientAnswer field and the response's ClientQuestion field. */
  interactive?: { answerField: DescField; questionField: DescField };
  /** A repeated homelab.mcp.v1.Content field of the response: shown as the result's content (images, audio, resources), not in structuredContent. */
  contentField?: DescField;
  /** A streaming tool's field of type homelab.mcp.v1.CallUpdate: progress and log lines, not part of the result. */
  updateField?: DescField;
  /** How several instances of the shard combine for this RPC (homelab.mcp.v1.fan_out). */
  fanOut?: FanOutOptions;
  /** A response field of type homelab.mcp.v1.FleetReport: filled by the gateway with the instances a merged call asked. */
  fleetField?: DescField;
  /** The exact schema arguments are validated against. */
  inputSchema: JsonSchemaObject;
  /** What tools/list shows: inputSchema without boolean subschemas and `type` arrays (see portableSchema). */
  publishedInputSchema: JsonSchemaObject;
  outputSchema: JsonSchemaObject;
  /**
   * Paths of the request fields marked (homelab.mcp.v1.field).secret, in the
   * spelling of violations: "credentials.token", list items "users[*].password",
   * map values "env.*". The last segment is the field name.
   */
  secretFields: string[];
}

/** Arguments that do not fit the tool's schema; each violation names the field, e.g. "service.urls[0]". */
export class InvalidArgumentsError extends Error {
  constructor(readonly violations: Violation[]) {
    super(violations.map((v) => `${v.path || '(arguments)'}: ${v.message}`).join('; '));
    this.name = 'InvalidArgumentsError';
  }
}

/** What a spec needs per call, prepared once when it is built. */
interface Prepared {
  registry: FileRegistry;
  validate: ValidateFunction;
  outputSecrets: ReturnType<typeof parseSecretPath>[];
}

const prepared = new WeakMap<ToolSpec, Prepared>();

function preparedOf(spec: ToolSpec): Prepared {
  const p = prepared.get(spec);
  if (!p) throw new Error(`tool ${spec.name} was not built by buildToolSpecs`);
  return p;
}

function annotationsOf(opts: ReturnType<ReturnType<typeof createOptionReaders>['tool']>): ToolSpec['annotations'] {
  // Without the option the MCP defaults apply (not read-only, may destroy, open world): the safe reading.
  if (!opts) return {};
  const a: ToolSpec['annotations'] = {};
  if (opts.title) a.title = opts.title;
  // proto3 cannot tell an unset flag from false: with the option present, every flag is the author's statement.
  a.readOnlyHint = opts.readOnly;
  a.destructiveHint = opts.destructive;
  a.idempotentHint = opts.idempotent;
  a.openWorldHint = opts.openWorld;
  return a;
}

/**
 * One ToolSpec per unary or server-streaming RPC of the service, with both
 * schemas built and the input validator compiled once, here. A contract whose
 * field rules do not fit its fields throws a ContractError naming the field.
 */
export function buildToolSpecs(registry: FileRegistry, serviceName: string): ToolSpec[] {
  const service = registry.getService(serviceName);
  if (!service) throw new Error(`service ${serviceName} is not in the shard's descriptors`);
  const options = createOptionReaders(registry);
  const specs: ToolSpec[] = [];
  const surface = surfaceMethods(service, options);
  for (const method of service.methods) {
    const answerField = method.input.fields.find((f) => f.message?.typeName === CLIENT_ANSWER);
    const questionField = method.output.fields.find((f) => f.message?.typeName === CLIENT_QUESTION);
    const interactive = method.methodKind === 'bidi_streaming' && answerField && questionField ? { answerField, questionField } : undefined;
    if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming' && !interactive) continue;
    // Resources, prompts and what serves them are not tools (see surface.ts).
    if (surface.has(method)) continue;
    const opts = options.tool(method);
    const inputSchema = withoutProperty(new SchemaBuilder(options, 'input', isKnownFormat).root(method.input), interactive?.answerField.name);
    const updateField = method.methodKind !== 'unary' ? method.output.fields.find((f) => f.message?.typeName === CALL_UPDATE) : undefined;
    const contentField = method.output.fields.find((f) => f.fieldKind === 'list' && f.message?.typeName === CONTENT);
    const fanOut = options.fanOut(method);
    const fleetField = method.output.fields.find((f) => f.fieldKind === 'message' && f.message.typeName === FLEET_REPORT);
    const outputSchema = withoutProperty(withoutProperty(withoutProperty(new SchemaBuilder(options, 'output', isKnownFormat).root(method.output), updateField?.name), contentField?.name), questionField?.name);
    const spec: ToolSpec = {
      name: toSnakeCase(method.name),
      method,
      ...(opts?.title ? { title: opts.title } : {}),
      description: commentOf(method) || `${method.name} of ${service.typeName}.`,
      annotations: annotationsOf(opts),
      requiresConfirmation: opts?.requiresConfirmation ?? false,
      ...(opts?.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts?.maxTimeoutMs ? { maxTimeoutMs: opts.maxTimeoutMs } : {}),
      ...(opts?.verifyWith ? { verifyWith: opts.verifyWith } : {}),
      streaming: method.methodKind !== 'unary',
      ...(interactive ? { interactive } : {}),
      ...(updateField ? { updateField } : {}),
      ...(contentField ? { contentField } : {}),
      ...(fanOut ? { fanOut } : {}),
      ...(fleetField ? { fleetField } : {}),
      inputSchema,
      publishedInputSchema: portableSchema(inputSchema),
      outputSchema,
      secretFields: secretPaths(method.input, options),
    };
    let validate: ValidateFunction;
    try {
      validate = compileSchema(inputSchema);
    } catch (err) {
      throw new ContractError(`${method.parent.typeName}.${method.name}: the input schema does not compile: ${err instanceof Error ? err.message : String(err)}`);
    }
    prepared.set(spec, { registry, validate, outputSecrets: secretPaths(method.output, options).map(parseSecretPath) });
    specs.push(spec);
  }
  return specs;
}

const CALL_UPDATE = 'homelab.mcp.v1.CallUpdate';
const FLEET_REPORT = 'homelab.mcp.v1.FleetReport';
const CONTENT = 'homelab.mcp.v1.Content';
const CLIENT_ANSWER = 'homelab.mcp.v1.ClientAnswer';
const CLIENT_QUESTION = 'homelab.mcp.v1.ClientQuestion';

/** The question a message of an interactive tool asks (proto3 JSON with .proto names), or undefined for a message of the result. */
export function readClientQuestion(spec: ToolSpec, chunk: Uint8Array): Record<string, unknown> | undefined {
  const field = spec.interactive?.questionField;
  if (!field?.message) return undefined;
  const { registry } = preparedOf(spec);
  const message = fromBinary(spec.method.output, chunk);
  if (!isFieldSet(message, field)) return undefined;
  return toJson(field.message, (message as unknown as Record<string, Message>)[field.localName]!, { useProtoFieldName: true, registry }) as Record<string, unknown>;
}

/** A request message of an interactive tool that carries only the client's answer (given as proto3 JSON). */
export function encodeClientAnswer(spec: ToolSpec, answer: Record<string, unknown>): Uint8Array {
  const field = spec.interactive!.answerField;
  const { registry } = preparedOf(spec);
  return toBinary(spec.method.input, fromJson(spec.method.input, { [field.name]: answer } as JsonValue, { registry }));
}

function withoutProperty(schema: JsonSchemaObject, name: string | undefined): JsonSchemaObject {
  if (!name) return schema;
  const properties = { ...(schema.properties as Record<string, unknown> | undefined) };
  delete properties[name];
  const required = (schema.required as string[] | undefined)?.filter((r) => r !== name);
  return { ...schema, properties, ...(required ? { required } : {}) };
}

/** What a streaming tool's message says while the call runs (proto3 JSON of its CallUpdate), or undefined for a message of the result. */
export function readCallUpdate(spec: ToolSpec, chunk: Uint8Array): { progress?: { done?: number; total?: number; message?: string }; log?: { level?: string; message?: string } } | undefined {
  const field = spec.updateField;
  if (!field?.message) return undefined;
  const message = fromBinary(spec.method.output, chunk);
  if (!isFieldSet(message, field)) return undefined;
  return toJson(field.message, (message as unknown as Record<string, Message>)[field.localName]!) as ReturnType<typeof readCallUpdate>;
}

/**
 * A validator for a tool schema written by hand (the gateway's own tools):
 * the same strict Ajv and the same worded violations as the shard tools.
 */
export function createArgumentsValidator(schema: object): (args: unknown) => void {
  const validate = compileSchema(schema);
  return (args) => {
    if (!validate(args ?? {})) throw new InvalidArgumentsError(describeErrors(validate.errors ?? []));
  };
}

/**
 * A tool's arguments decoded once into the request message. The message is
 * what the call reasons about (its plan binding, its audit line); `bytes` is
 * what goes on the wire.
 */
export interface DecodedRequest {
  readonly message: Message;
  bytes: Uint8Array;
}

/** A shard's answer decoded once: the message, and the proto3 JSON that outputSchema describes. */
export interface DecodedResponse {
  readonly message: Message;
  readonly json: Record<string, unknown>;
  /** The Content messages of the contentField (proto3 JSON), taken out of json. */
  readonly content: Record<string, unknown>[];
}

/** Validates the arguments against the tool's input schema and decodes them into the request message. */
export function decodeArguments(spec: ToolSpec, args: unknown): DecodedRequest {
  const { validate, registry } = preparedOf(spec);
  const value = args ?? {};
  // Before anything recursive looks at the arguments: what protobuf cannot decode is refused here, by field.
  const tooDeep = findTooDeep(spec.method.input, value);
  if (tooDeep) throw new InvalidArgumentsError([tooDeep]);
  if (!validate(value)) throw new InvalidArgumentsError(describeErrors(validate.errors ?? []));
  let message: Message;
  try {
    message = fromJson(spec.method.input, value as JsonValue, { registry });
  } catch (err) {
    throw new InvalidArgumentsError([locateConversionError(spec.method.input, value, registry, '', err)]);
  }
  return { message, bytes: toBinary(spec.method.input, message) };
}

/** The wire form of a request message the call changed (a plan id set after the user confirmed). */
export function encodeMessage(spec: ToolSpec, message: Message): Uint8Array {
  return toBinary(spec.method.input, message);
}

/** Validates the arguments and encodes them as the request message. */
export function encodeRequest(spec: ToolSpec, args: unknown): Uint8Array {
  return decodeArguments(spec, args).bytes;
}

/**
 * A request as proto3 JSON: with the .proto field names (the tool's own
 * argument names, for people: the audit), or with the JSON names (what a plan
 * binding is computed from, as the shards compute it). Default values are left out.
 */
export function requestJson(spec: ToolSpec, message: Message, names: 'proto' | 'json'): Record<string, unknown> {
  const { registry } = preparedOf(spec);
  return toJson(spec.method.input, message, { useProtoFieldName: names === 'proto', registry }) as Record<string, unknown>;
}

/**
 * The response as proto3 JSON with the .proto field names and every field
 * present (zero values included): exactly what outputSchema describes, before
 * its secret fields are redacted (redactOutput).
 */
export function readResponse(spec: ToolSpec, bytes: Uint8Array): DecodedResponse {
  const { registry } = preparedOf(spec);
  const message = fromBinary(spec.method.output, bytes);
  const json = toJson(spec.method.output, message, { useProtoFieldName: true, alwaysEmitImplicit: true, registry }) as Record<string, unknown>;
  const content = spec.contentField ? ((json[spec.contentField.name] as Record<string, unknown>[] | undefined) ?? []) : [];
  if (spec.contentField) delete json[spec.contentField.name];
  if (spec.updateField) delete json[spec.updateField.name];
  if (spec.interactive) delete json[spec.interactive.questionField.name];
  return { message, json, content };
}

/** Replaces the values of the output fields marked secret in the contract; the JSON is changed in place. */
export function redactOutput(spec: ToolSpec, json: Record<string, unknown>): Record<string, unknown> {
  const { outputSecrets } = preparedOf(spec);
  if (outputSecrets.length) redactPaths(json, outputSecrets);
  return json;
}

/** readResponse and redactOutput in one: the JSON a result may show. */
export function decodeResponse(spec: ToolSpec, bytes: Uint8Array): Record<string, unknown> {
  return redactOutput(spec, readResponse(spec, bytes).json);
}

/**
 * Merges the messages of a server stream into one. Concatenated protobuf
 * messages parse as their merge (repeated fields append, maps merge, singular
 * fields and oneofs keep the last value), so no message is decoded here.
 */
export function mergeResponses(_spec: ToolSpec, chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** A short readable rendering of a result for the text content: its message first, then an outline. */
export function summarizeResult(_spec: ToolSpec, json: Record<string, unknown>): string {
  return renderResult(json);
}
