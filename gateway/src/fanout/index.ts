import * as grpc from '@grpc/grpc-js';
import type { ToolEntry } from '../discovery/tool-table.js';
import type { ShardConnection } from '../discovery/shard-connection.js';
import { nodeName } from '../discovery/instances.js';
import { decodeArguments, readResponse, type MergeOptions, type RouteOptions } from '../schema/index.js';
import { callUnary, invoke } from '../call/invoke.js';
import { decode } from '../call/decode.js';
import { errorResult } from '../call/results.js';
import { ToolCall, type CallContext, type CallDeps, type StageResult } from '../call/tool-call.js';
import { mergeParts, type InstancePart } from './merge.js';

/*
 * Several instances of one shard (one Watchman per Docker node) behind one
 * tool. The contract's (homelab.mcp.v1.fan_out) option says what a call means
 * across them: merge every instance's answer, or route to the instance that
 * holds the object the request names. Nothing here knows what the objects are.
 */

const LOCATE_TIMEOUT_MS = 5000;

function textOf(answer: { content: { type: string; text?: string }[] }): string {
  return answer.content.map((c) => (c.type === 'text' ? c.text ?? '' : '')).join(' ').split('\n')[0]!;
}

function unreachable(shard: ShardConnection): string {
  const st = shard.status();
  return `node ${nodeName(shard)} is unreachable (${st.state.replace('_', ' ')} since ${st.since.toISOString()}${st.lastError ? `: ${st.lastError}` : ''})`;
}

function nodeList(instances: readonly ShardConnection[]): string {
  return instances.map((i) => `${nodeName(i)}${i.isServing() ? '' : ' (unreachable)'}`).join(', ');
}

/** The same call sent to one instance. */
function callOn(call: ToolCall<ToolEntry>, shard: ShardConnection, ctx: CallContext): ToolCall<ToolEntry> {
  const sub = new ToolCall(call.name, { ...call.target, shard }, call.args, ctx);
  sub.request = call.request;
  return sub;
}

/**
 * Progress of several instances as one count that only grows (MCP requires
 * it), each message naming its node.
 */
function sharedProgress(ctx: CallContext): (node: string) => CallContext {
  let done = 0;
  return (node) => ({
    ...ctx,
    ...(ctx.sendProgress
      ? { sendProgress: (_progress: number, message: string) => ctx.sendProgress!(++done, `${node}: ${message}`) }
      : {}),
  });
}

/** The call on one instance, through invoke and decode: its answer, or why there is none. */
async function askInstance(call: ToolCall<ToolEntry>, shard: ShardConnection, ctx: CallContext, deps: CallDeps): Promise<InstancePart & { truncated?: boolean }> {
  const node = nodeName(shard);
  if (!shard.isServing()) return { node, error: unreachable(shard) };
  const sub = callOn(call, shard, ctx);
  const failed = (step: StageResult | undefined) => (step && 'answer' in step && step.answer ? textOf(step.answer) : undefined);
  const invoked = await invoke.run(sub, deps);
  const invokeError = failed(invoked);
  if (invokeError) return { node, error: invokeError };
  const decoded = decode.run(sub, deps) as StageResult;
  const decodeError = failed(decoded);
  if (decodeError) return { node, error: decodeError };
  call.timeoutMs = Math.max(call.timeoutMs, sub.timeoutMs);
  return { node, json: sub.response!.json, content: sub.response!.content, truncated: sub.received?.truncated };
}

/** Every instance asked at once, the answers merged as `opts` says. */
async function mergeAll(call: ToolCall<ToolEntry>, deps: CallDeps, opts: MergeOptions): Promise<StageResult> {
  const entry = call.target;
  const { spec } = entry;
  const ctxFor = sharedProgress(call.ctx);
  call.sentAt = Date.now();
  const parts = await Promise.all(entry.instances.map((shard) => askInstance(call, shard, ctxFor(nodeName(shard)), deps)));
  // The request as the audit log records it (converted once per call).
  const request = call.auditArguments() as Record<string, unknown>;
  const limit = opts.limitArgument ? Number(request[opts.limitArgument] ?? 0) : 0;
  const skip = spec.fleetField ? [spec.fleetField.name] : [];
  const merged = mergeParts(parts, opts, Number.isFinite(limit) ? limit : 0, skip);
  if (spec.fleetField) merged.json[spec.fleetField.name] = merged.fleet;
  const answered = merged.fleet.instances.filter((i) => i.ok);
  if (answered.length === 0) {
    const why = merged.fleet.instances.map((i) => `${i.node}: ${i.error}`).join('; ');
    return {
      outcome: { kind: 'unavailable', code: 'UNAVAILABLE', reason: `no instance answered: ${why}` },
      answer: errorResult(`${call.name} is unavailable: no node answered (${why}).\nWhat to do: homelab_status shows every node; the tool answers again as soon as one serves.`, { code: 'UNAVAILABLE', reason: 'NO_INSTANCE', instances: merged.fleet.instances }),
    };
  }
  for (const i of merged.fleet.instances.filter((x) => !x.ok)) {
    call.notes.push(`(Partial: ${i.error.startsWith('node ') ? i.error : `node ${i.node} failed: ${i.error}`}; its items are missing.)`);
  }
  if (parts.some((p) => p.truncated)) call.notes.push("(Some node's answer stopped at the gateway's message limit; narrow the request for the rest.)");
  if (merged.cut > 0) call.notes.push(`(${merged.cut} more ${opts.items} from all nodes were cut to the limit of ${limit}.)`);
  call.response = { message: call.request!.message, json: merged.json, content: merged.content };
  return { outcome: { kind: 'ok' }, again: 'redact' };
}

/** Whether an object of the locate RPC's answer is the one the key names. */
function matches(item: Record<string, unknown>, key: string, fields: readonly string[]): boolean {
  return fields.some((f) => {
    const v = item[f];
    if (typeof v !== 'string' || !v) return false;
    return v === key || (f === 'id' && key.length >= 12 && v.startsWith(key));
  });
}

/** Which serving instances hold the object `key` names, and which could not be asked. */
async function locate(call: ToolCall<ToolEntry>, deps: CallDeps, opts: RouteOptions, key: string): Promise<{ holders: ShardConnection[]; unknown: string[] }> {
  const entry = call.target;
  const locator = deps.table.ofShard(entry.shard).find((t) => t.spec.method.name === opts.locateWith);
  if (!locator) throw new Error(`${entry.spec.method.parent.typeName}.${entry.spec.method.name}: locate_with names ${opts.locateWith}, which is not a tool of the service`);
  const request = decodeArguments(locator.spec, opts.locateRequest ? JSON.parse(opts.locateRequest) : {}).bytes;
  const metadata = new grpc.Metadata();
  metadata.set('x-homelab-mcp-subject', call.ctx.subject);
  const holders: ShardConnection[] = [];
  const unknown: string[] = [];
  await Promise.all(
    entry.instances.map(async (shard) => {
      if (!shard.isServing()) return void unknown.push(unreachable(shard));
      try {
        const bytes = await callUnary(shard.client, locator.path, request, metadata, new Date(Date.now() + LOCATE_TIMEOUT_MS), call.ctx.signal);
        const items = (readResponse(locator.spec, bytes).json[opts.locateItems] as Record<string, unknown>[] | undefined) ?? [];
        if (items.some((item) => matches(item, key, opts.match))) holders.push(shard);
      } catch (err) {
        unknown.push(`node ${nodeName(shard)} could not be asked (${(err as grpc.ServiceError).details || (err as Error).message})`);
      }
    }),
  );
  holders.sort((a, b) => a.target.rank - b.target.rank);
  return { holders, unknown: unknown.sort() };
}

/** A string field of the request by its .proto name ('' when unset). */
function argument(call: ToolCall<ToolEntry>, name: string): string {
  const field = call.target.spec.method.input.fields.find((f) => f.name === name);
  const value = field && call.request ? (call.request.message as unknown as Record<string, unknown>)[field.localName] : undefined;
  return typeof value === 'string' ? value : '';
}

/** Whether the call needs more than the single-shard route: several instances, or an argument naming one. */
export function needsInstanceRouting(call: ToolCall<ToolEntry>): boolean {
  const { instances, spec } = call.target;
  return isFleet(instances) || (!!spec.fanOut?.nodeArgument && argument(call, spec.fanOut.nodeArgument) !== '');
}

/** Several instances, or one named for its node: merged answers then say which node each item is from. */
function isFleet(instances: readonly ShardConnection[]): boolean {
  return instances.length > 1 || instances.some((i) => i.target.instance !== '');
}

/** Sends the call on to one instance: the rest of the stages run as for a single shard. */
function sendTo(call: ToolCall<ToolEntry>, shard: ShardConnection): StageResult {
  call.target = { ...call.target, shard };
  return undefined;
}

function refuse(call: ToolCall<ToolEntry>, code: string, reason: string, text: string, extra: Record<string, unknown> = {}): StageResult {
  const kind = code === 'UNAVAILABLE' ? 'unavailable' : 'invalid';
  return { outcome: { kind, code, reason }, answer: errorResult(text, { code, reason, ...extra }) };
}

/**
 * The route stage for a shard with several instances, or a call that names
 * one: picks the instance (or all of them) as the RPC's fan-out option says.
 * Returns undefined when the call goes on to a single instance as usual.
 */
export async function routeInstances(call: ToolCall<ToolEntry>, deps: CallDeps): Promise<StageResult> {
  const entry = call.target;
  const { spec, instances } = entry;
  const fanOut = spec.fanOut;
  const node = fanOut?.nodeArgument ? argument(call, fanOut.nodeArgument) : '';
  if (node) {
    const chosen = instances.find((i) => nodeName(i) === node);
    if (!chosen) {
      return refuse(call, 'NOT_FOUND', 'UNKNOWN_NODE', `${call.name}: there is no node "${node}". The nodes: ${nodeList(instances)} (homelab_status lists them).`);
    }
    if (!chosen.isServing()) {
      return refuse(call, 'UNAVAILABLE', 'NODE_UNREACHABLE', `${call.name} is unavailable: ${unreachable(chosen)}; nothing was sent.\nWhat to do: check shard-${chosen.target.kind} on ${node} and the service behind it; homelab_status shows every node.`, { node });
    }
    return sendTo(call, chosen);
  }
  const serving = instances.filter((i) => i.isServing());
  // Writes are never fanned out: a change goes to one instance, through the plan gate.
  const mode = call.readOnly ? fanOut?.mode : undefined;
  if (mode?.case === 'merge' && isFleet(instances)) return mergeAll(call, deps, mode.value);
  if (mode?.case === 'route' && isFleet(instances)) {
    const key = argument(call, mode.value.key);
    if (!key) return mode.value.merge ? mergeAll(call, deps, mode.value.merge) : sendTo(call, serving[0] ?? entry.shard);
    if (instances.length === 1) return sendTo(call, instances[0]!);
    const { holders, unknown } = await locate(call, deps, mode.value, key);
    if (holders.length === 1) return sendTo(call, holders[0]!);
    const arg = fanOut?.nodeArgument;
    if (holders.length > 1) {
      const nodes = holders.map(nodeName);
      return refuse(
        call,
        'FAILED_PRECONDITION',
        'AMBIGUOUS',
        `${call.name}: "${key}" is on several nodes: ${nodes.join(', ')}.\nWhat to do: call ${call.name} again with ${arg ? `${arg} set to one of them (e.g. "${arg}": "${nodes[0]}")` : 'one node'}.`,
        { nodes },
      );
    }
    if (unknown.length > 0) {
      return refuse(
        call,
        'UNAVAILABLE',
        'NODE_UNREACHABLE',
        `${call.name}: no serving node has "${key}"${serving.length ? ` (looked on ${serving.map(nodeName).join(', ')})` : ''}, and ${unknown.join('; ')}: it may be there.\nWhat to do: check that node (homelab_status), or name another ${mode.value.key}.`,
      );
    }
    // No node has it: the shard's own answer says so, with the names it does have.
    return sendTo(call, serving[0] ?? entry.shard);
  }
  // One instance, or an RPC the contract does not fan out: the first serving instance answers.
  return sendTo(call, serving[0] ?? entry.shard);
}
