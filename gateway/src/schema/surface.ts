import { ScalarType, fromBinary, fromJson, toBinary, toJson, type DescMethod, type DescService, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { toSnakeCase } from '../discovery/tool-names.js';
import { commentOf } from './comments.js';
import { COMPLETE_REQUEST, createOptionReaders, type OptionReaders } from './options.js';
import { ContractError } from './json-schema.js';

/*
 * The MCP surface besides tools, read from a shard's contract: resources and
 * resource templates (read by an RPC, watched by a server stream), prompts
 * (rendered by an RPC) and the completions of their arguments. Like the tool
 * mapping, it knows only the options of homelab/mcp/v1, never a shard's API.
 */

/** An RPC of the shard: what to call and how to read its answer. */
export interface RpcRef {
  method: DescMethod;
  /** gRPC path, /package.Service/Method. */
  path: string;
  registry: FileRegistry;
}

export interface ResourceSpec {
  rpc: RpcRef;
  /** The URI, or the URI template with {variables}. */
  uri: string;
  template: boolean;
  /** Template variables, each a request field. */
  variables: string[];
  name: string;
  title?: string;
  description: string;
  mimeType: string;
  /** Server stream that sends a message on each change; with it, the resource can be subscribed to. */
  watch?: RpcRef;
  /** Lists a template's concrete resources for resources/list. */
  list?: RpcRef;
  /** Variables whose values an RPC suggests. */
  completions: Map<string, RpcRef>;
}

export interface PromptArgumentSpec {
  name: string;
  description: string;
  required: boolean;
}

export interface PromptSpec {
  rpc: RpcRef;
  name: string;
  title?: string;
  description: string;
  arguments: PromptArgumentSpec[];
  completions: Map<string, RpcRef>;
}

export interface SurfaceSpec {
  resources: ResourceSpec[];
  prompts: PromptSpec[];
}

const VARIABLE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function refOf(registry: FileRegistry, method: DescMethod): RpcRef {
  return { method, path: `/${method.parent.typeName}/${method.name}`, registry };
}

function sentence(text: string): string {
  return /[.!?:)]$/.test(text) ? text : `${text}.`;
}

/** The RPCs of a service that serve the surface (and so are not tools): resources, prompts, their helpers, completions. */
export function surfaceMethods(service: DescService, options: OptionReaders): Set<DescMethod> {
  const out = new Set<DescMethod>();
  const byName = new Map(service.methods.map((m) => [m.name, m]));
  for (const m of service.methods) {
    const resource = options.resource(m);
    if (resource || options.prompt(m)) out.add(m);
    if (m.input.typeName === COMPLETE_REQUEST) out.add(m);
    for (const helper of [resource?.watchWith, resource?.listWith]) {
      const h = helper ? byName.get(helper) : undefined;
      if (h) out.add(h);
    }
  }
  return out;
}

/** The completion RPCs the request's fields name (`complete_with`), by field name. */
function completionsOf(registry: FileRegistry, method: DescMethod, options: OptionReaders, byName: Map<string, DescMethod>): Map<string, RpcRef> {
  const out = new Map<string, RpcRef>();
  for (const f of method.input.fields) {
    const name = options.field(f)?.completeWith;
    if (!name) continue;
    const target = byName.get(name);
    if (!target || target.input.typeName !== COMPLETE_REQUEST || target.methodKind !== 'unary') {
      throw new ContractError(`${method.input.typeName}.${f.name}: (homelab.mcp.v1.field).complete_with names ${name}, which is not a unary RPC of ${method.parent.typeName} taking ${COMPLETE_REQUEST}`);
    }
    out.set(f.name, refOf(registry, target));
  }
  return out;
}

function helper(registry: FileRegistry, method: DescMethod, byName: Map<string, DescMethod>, name: string, kind: 'watch_with' | 'list_with'): RpcRef | undefined {
  if (!name) return undefined;
  const target = byName.get(name);
  const fits = kind === 'watch_with' ? target?.methodKind === 'server_streaming' && target.input === method.input : target?.methodKind === 'unary' && target.output.typeName === 'homelab.mcp.v1.ResourceList';
  if (!target || !fits) {
    const wanted = kind === 'watch_with' ? `a server-streaming RPC taking ${method.input.typeName}` : 'a unary RPC returning homelab.mcp.v1.ResourceList';
    throw new ContractError(`${method.parent.typeName}.${method.name}: (homelab.mcp.v1.resource).${kind} names ${name}, which is not ${wanted}`);
  }
  return refOf(registry, target);
}

/** The resources and prompts a service declares; a declaration that does not fit its RPC throws a ContractError naming it. */
export function buildSurfaceSpec(registry: FileRegistry, serviceName: string): SurfaceSpec {
  const service = registry.getService(serviceName);
  if (!service) throw new Error(`service ${serviceName} is not in the shard's descriptors`);
  const options = createOptionReaders(registry);
  const byName = new Map(service.methods.map((m) => [m.name, m]));
  const resources: ResourceSpec[] = [];
  const prompts: PromptSpec[] = [];
  for (const method of service.methods) {
    const where = `${service.typeName}.${method.name}`;
    const r = options.resource(method);
    if (r) {
      if (method.methodKind !== 'unary') throw new ContractError(`${where}: a resource is read by a unary RPC`);
      if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(r.uri)) throw new ContractError(`${where}: (homelab.mcp.v1.resource).uri "${r.uri}" is not a URI`);
      const variables = [...r.uri.matchAll(VARIABLE)].map((m) => m[1]!);
      for (const v of variables) {
        const field = method.input.fields.find((f) => f.name === v);
        if (!field || field.fieldKind !== 'scalar') throw new ContractError(`${where}: the URI variable {${v}} is not a scalar field of ${method.input.typeName}`);
      }
      const watch = helper(registry, method, byName, r.watchWith, 'watch_with');
      const list = helper(registry, method, byName, r.listWith, 'list_with');
      resources.push({
        rpc: refOf(registry, method),
        uri: r.uri,
        template: variables.length > 0,
        variables,
        name: r.name || toSnakeCase(method.name),
        ...(r.title ? { title: r.title } : {}),
        description: commentOf(method) || `${method.name} of ${service.typeName}.`,
        mimeType: r.mimeType || 'application/json',
        ...(watch ? { watch } : {}),
        ...(list ? { list } : {}),
        completions: completionsOf(registry, method, options, byName),
      });
    }
    const p = options.prompt(method);
    if (p) {
      if (method.methodKind !== 'unary' || method.output.typeName !== 'homelab.mcp.v1.PromptMessages') throw new ContractError(`${where}: a prompt is rendered by a unary RPC returning homelab.mcp.v1.PromptMessages`);
      prompts.push({
        rpc: refOf(registry, method),
        name: p.name || toSnakeCase(method.name),
        ...(p.title ? { title: p.title } : {}),
        description: commentOf(method) || `${method.name} of ${service.typeName}.`,
        arguments: method.input.fields.map((f) => ({ name: f.name, description: sentence(commentOf(f) || f.name), required: options.field(f)?.required ?? false })),
        completions: completionsOf(registry, method, options, byName),
      });
    }
  }
  return { resources, prompts };
}

/** The values of a template's variables in a URI, or undefined when the URI is not one of the template's. */
export function matchTemplate(template: string, uri: string): Record<string, string> | undefined {
  const names: string[] = [];
  const parts = template.split(VARIABLE);
  // split() with a capture group alternates literal text and variable names.
  const pattern = parts.map((part, i) => (i % 2 ? (names.push(part), '([^/?#]+)') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  const m = new RegExp(`^${pattern}$`).exec(uri);
  if (!m) return undefined;
  try {
    return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
  } catch {
    return undefined;
  }
}

/** A request built from string values (template variables, prompt arguments), as protobuf JSON; a value that does not fit is named. */
export function encodeStringRequest(rpc: RpcRef, values: Record<string, string>): Uint8Array {
  const json: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(values)) {
    const field = rpc.method.input.fields.find((f) => f.name === k);
    if (!field) throw new RangeError(`unknown argument "${k}"; the arguments are ${rpc.method.input.fields.map((f) => f.name).join(', ') || 'none'}`);
    // proto3 JSON reads numbers and enums from strings too; only a bool needs its JSON literal.
    json[k] = field.fieldKind === 'scalar' && field.scalar === ScalarType.BOOL ? v === 'true' : v;
  }
  try {
    return toBinary(rpc.method.input, fromJson(rpc.method.input, json, { registry: rpc.registry }));
  } catch (err) {
    throw new RangeError(err instanceof Error ? err.message : String(err));
  }
}

/** A request from arbitrary proto3 JSON (a completion's request). */
export function encodeJsonRequest(rpc: RpcRef, json: Record<string, JsonValue>): Uint8Array {
  return toBinary(rpc.method.input, fromJson(rpc.method.input, json, { registry: rpc.registry }));
}

/** An answer as proto3 JSON with the .proto field names. */
export function decodeAnswer(rpc: RpcRef, bytes: Uint8Array): Record<string, unknown> {
  return toJson(rpc.method.output, fromBinary(rpc.method.output, bytes), { useProtoFieldName: true, registry: rpc.registry }) as Record<string, unknown>;
}
