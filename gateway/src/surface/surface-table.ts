import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, type CompleteResult, type GetPromptResult, type Prompt, type ReadResourceResult, type Resource, type ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { callUnary } from '../call/invoke.js';
import { ProtocolError } from '../call/results.js';
import type { ShardConnection } from '../discovery/shard-connection.js';
import { groupByKind, representative } from '../discovery/instances.js';
import { assignToolNames } from '../discovery/tool-names.js';
import { decodeCallFailure } from '../mcp/grpc-errors.js';
import { decodeAnswer, encodeJsonRequest, encodeStringRequest, matchTemplate, type PromptSpec, type ResourceSpec, type RpcRef } from '../schema/index.js';
import { toContentBlock, toResourceContents } from './content.js';

/** JSON-RPC code of a resource that does not exist (MCP). */
export const RESOURCE_NOT_FOUND = -32002;
/** How long listing a template's resources may take before resources/list answers without them. */
const LIST_TIMEOUT_MS = 5_000;
const READ_TIMEOUT_MS = 30_000;
const MAX_COMPLETIONS = 100;

interface Owned<T> {
  spec: T;
  shard: ShardConnection;
}

export interface Caller {
  subject: string;
  signal: AbortSignal;
}

type Json = Record<string, unknown>;

function metadataFor(subject: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('x-homelab-mcp-subject', subject);
  return metadata;
}

/**
 * The resources, resource templates and prompts of every serving shard, and
 * the calls that read, render and complete them. Like the tool table it
 * follows shard health: what a shard that is down declares is not listed, and
 * `changed` fires when what is listed changes.
 */
export class SurfaceTable extends EventEmitter<{ resourcesChanged: []; promptsChanged: [] }> {
  private resourcesKey = '';
  private promptsKey = '';
  private promptNames = new Map<string, Owned<PromptSpec>>();

  constructor(
    private readonly shards: readonly ShardConnection[],
    private readonly logger: Logger,
  ) {
    super();
    for (const shard of shards) this.track(shard);
    this.rebuild();
  }

  /** Follows a shard added to the list after start; `refresh` after one left it. */
  track(shard: ShardConnection): void {
    shard.on('change', () => this.refresh());
  }

  refresh(): void {
    queueMicrotask(() => this.rebuild());
  }

  private rebuild(): void {
    // Instances of one kind declare the same prompts: the one that speaks for the kind offers them.
    const named = [...groupByKind(this.shards)].flatMap(([kind, instances]) => {
      const shard = representative(instances);
      return shard ? shard.surface().prompts.map((spec) => ({ shard: kind, base: spec.name, item: { spec, shard } })) : [];
    });
    this.promptNames = new Map([...assignToolNames(named, new Set())].map(([name, t]) => [name, t.item]));
    const resourcesKey = this.resources().map((r) => `${r.shard.target.kind}\0${r.spec.uri}`).join('\n');
    const promptsKey = this.prompts().map(([name, p]) => `${name}\0${p.shard.status().descriptorHash ?? ''}`).join('\n');
    if (resourcesKey !== this.resourcesKey) {
      this.resourcesKey = resourcesKey;
      this.emit('resourcesChanged');
    }
    if (promptsKey !== this.promptsKey) {
      this.promptsKey = promptsKey;
      this.emit('promptsChanged');
    }
  }

  /**
   * Resources and templates of serving shards; the first shard to declare a
   * URI owns it, in rank order within each kind (not list order: a reload
   * appends a replaced connection, and its node must keep what it owned).
   */
  private resources(): Owned<ResourceSpec>[] {
    const seen = new Set<string>();
    const out: Owned<ResourceSpec>[] = [];
    for (const shard of [...groupByKind(this.shards).values()].flat()) {
      if (!shard.isServing()) continue;
      for (const spec of shard.surface().resources) {
        if (seen.has(spec.uri)) continue;
        seen.add(spec.uri);
        out.push({ spec, shard });
      }
    }
    return out;
  }

  private prompts(): [string, Owned<PromptSpec>][] {
    return [...this.promptNames].filter(([, p]) => p.shard.isServing()).sort(([a], [b]) => a.localeCompare(b));
  }

  private async call(owner: Owned<unknown>, rpc: RpcRef, request: Uint8Array, caller: Caller, timeoutMs: number): Promise<Json> {
    try {
      const bytes = await callUnary(owner.shard.client, rpc.path, request, metadataFor(caller.subject), new Date(Date.now() + timeoutMs), caller.signal);
      return decodeAnswer(rpc, bytes);
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (typeof e.code !== 'number') throw err;
      const failure = decodeCallFailure(e);
      const code = failure.code === 'NOT_FOUND' ? RESOURCE_NOT_FOUND : failure.code === 'INVALID_ARGUMENT' ? ErrorCode.InvalidParams : ErrorCode.InternalError;
      throw new ProtocolError(code, `the ${owner.shard.target.name} shard answered ${failure.code}: ${failure.message}${failure.hint ? ` (${failure.hint})` : ''}`, failure);
    }
  }

  /** resources/list: the fixed resources, and each template's resources as its shard lists them now. */
  async listResources(caller: Caller): Promise<Resource[]> {
    const owned = this.resources();
    const fixed = owned.filter((r) => !r.spec.template).map(({ spec }) => describeResource(spec));
    const listed = await Promise.all(
      owned
        .filter((r) => r.spec.template && r.spec.list)
        .map(async (owner) => {
          try {
            const answer = await this.call(owner, owner.spec.list!, new Uint8Array(), caller, LIST_TIMEOUT_MS);
            return ((answer.resources as Json[] | undefined) ?? []).map((ref) => ({
              uri: String(ref.uri),
              name: String(ref.name || ref.uri),
              ...(ref.title ? { title: String(ref.title) } : {}),
              ...(ref.description ? { description: String(ref.description) } : {}),
              mimeType: String(ref.mime_type || owner.spec.mimeType),
            }));
          } catch (err) {
            // A list that cannot be had now leaves its template's resources out; the template itself is still listed.
            this.logger.info({ shard: owner.shard.target.name, uri: owner.spec.uri, err: err instanceof Error ? err.message : String(err) }, 'could not list resources');
            return [];
          }
        }),
    );
    return [...fixed, ...listed.flat()];
  }

  listTemplates(): ResourceTemplate[] {
    return this.resources()
      .filter((r) => r.spec.template)
      .map(({ spec }) => ({ uriTemplate: spec.uri, name: spec.name, ...(spec.title ? { title: spec.title } : {}), description: spec.description, mimeType: spec.mimeType }));
  }

  /** The resource a URI names, with its template's variables; a fixed URI wins over a template. */
  find(uri: string): { owner: Owned<ResourceSpec>; values: Record<string, string> } | undefined {
    const owned = this.resources();
    const fixed = owned.find((r) => !r.spec.template && r.spec.uri === uri);
    if (fixed) return { owner: fixed, values: {} };
    for (const owner of owned) {
      if (!owner.spec.template) continue;
      const values = matchTemplate(owner.spec.uri, uri);
      if (values) return { owner, values };
    }
    return undefined;
  }

  /** The resource, or the JSON-RPC error that says it is not there (and where to look). */
  resolve(uri: string): { owner: Owned<ResourceSpec>; values: Record<string, string> } {
    const found = this.find(uri);
    if (!found) throw new ProtocolError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}. resources/list and resources/templates/list show what can be read now (a shard that is down lists nothing).`, { uri });
    return found;
  }

  requestFor(spec: ResourceSpec, values: Record<string, string>, rpc: RpcRef = spec.rpc): Uint8Array {
    try {
      return encodeStringRequest(rpc, values);
    } catch (err) {
      throw new ProtocolError(ErrorCode.InvalidParams, `${spec.uri}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async read(uri: string, caller: Caller): Promise<ReadResourceResult> {
    const { owner, values } = this.resolve(uri);
    const answer = await this.call(owner, owner.spec.rpc, this.requestFor(owner.spec, values), caller, READ_TIMEOUT_MS);
    if (owner.spec.rpc.method.output.typeName === 'homelab.mcp.v1.ResourceContents') {
      return { contents: ((answer.contents as Json[] | undefined) ?? []).map((body) => toResourceContents(body, uri, owner.spec.mimeType)) };
    }
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(answer, null, 2) }] };
  }

  listPrompts(): Prompt[] {
    return this.prompts().map(([name, { spec }]) => ({
      name,
      ...(spec.title ? { title: spec.title } : {}),
      description: spec.description,
      arguments: spec.arguments.map((a) => ({ name: a.name, description: a.description, required: a.required })),
    }));
  }

  private prompt(name: string): Owned<PromptSpec> {
    const p = this.promptNames.get(name);
    if (!p || !p.shard.isServing()) {
      const known = this.prompts().map(([n]) => n);
      throw new ProtocolError(ErrorCode.InvalidParams, `Unknown prompt "${name}"${p ? ` (its ${p.shard.target.name} shard is not serving now)` : ''}. The prompts now: ${known.join(', ') || 'none'}.`);
    }
    return p;
  }

  async getPrompt(name: string, args: Record<string, string>, caller: Caller): Promise<GetPromptResult> {
    const owner = this.prompt(name);
    const missing = owner.spec.arguments.filter((a) => a.required && !args[a.name]?.trim());
    if (missing.length) throw new ProtocolError(ErrorCode.InvalidParams, `Prompt ${name} needs ${missing.map((a) => `"${a.name}" (${a.description})`).join(', ')}.`);
    let request: Uint8Array;
    try {
      request = encodeStringRequest(owner.spec.rpc, args);
    } catch (err) {
      throw new ProtocolError(ErrorCode.InvalidParams, `Prompt ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const answer = await this.call(owner, owner.spec.rpc, request, caller, READ_TIMEOUT_MS);
    const messages = ((answer.messages as Json[] | undefined) ?? []).flatMap((m) => {
      const content = toContentBlock((m.content as Json | undefined) ?? {});
      return content ? [{ role: m.role === 'ROLE_ASSISTANT' ? ('assistant' as const) : ('user' as const), content }] : [];
    });
    return { description: String(answer.description || owner.spec.description), messages };
  }

  /** completion/complete for a prompt argument or a template variable, from the RPC its field names; none: no suggestions. */
  async complete(ref: { type: string; name?: string; uri?: string }, argument: { name: string; value: string }, context: Record<string, string>, caller: Caller): Promise<CompleteResult> {
    let owner: Owned<unknown>;
    let rpc: RpcRef | undefined;
    if (ref.type === 'ref/prompt') {
      const p = this.prompt(ref.name ?? '');
      owner = p;
      rpc = p.spec.completions.get(argument.name);
    } else {
      const r = this.resources().find((x) => x.spec.uri === ref.uri);
      if (!r) throw new ProtocolError(RESOURCE_NOT_FOUND, `No resource template ${ref.uri ?? ''}; resources/templates/list shows them.`);
      owner = r;
      rpc = r.spec.completions.get(argument.name);
    }
    if (!rpc) return { completion: { values: [], hasMore: false } };
    const answer = await this.call(owner, rpc, encodeJsonRequest(rpc, { argument: argument.name, value: argument.value, context }), caller, LIST_TIMEOUT_MS);
    const values = ((answer.values as string[] | undefined) ?? []).slice(0, MAX_COMPLETIONS);
    const total = Number(answer.total ?? 0) || undefined;
    return { completion: { values, ...(total ? { total } : {}), hasMore: answer.has_more === true || ((answer.values as string[] | undefined)?.length ?? 0) > MAX_COMPLETIONS } };
  }
}

function describeResource(spec: ResourceSpec): Resource {
  return { uri: spec.uri, name: spec.name, ...(spec.title ? { title: spec.title } : {}), description: spec.description, mimeType: spec.mimeType };
}
