import * as grpc from '@grpc/grpc-js';
import type { GatewayConfig } from '../config.js';
import { identityCodec } from '../discovery/wire.js';
import type { ToolEntry, ToolTable } from '../discovery/tool-table.js';
import { encodeClientAnswer, readCallUpdate, readClientQuestion, type ToolSpec } from '../schema/index.js';
import { decodeCallFailure, describeCallFailure, describeUnknownOutcome, isCutOff, isTransportFailure } from '../mcp/grpc-errors.js';
import { needsPlan } from './plans.js';
import { TIMEOUT_META_KEY, errorResult } from './results.js';
import type { CallContext, Stage, StageResult, ToolCall } from './tool-call.js';

function deadlineMs(spec: ToolSpec, calls: GatewayConfig['calls'], meta: Record<string, unknown> | undefined): number {
  const asked = Number(meta?.[TIMEOUT_META_KEY]);
  const requested = Number.isFinite(asked) && asked > 0 ? asked : (spec.timeoutMs || calls.defaultTimeoutMs);
  return Math.min(requested, spec.maxTimeoutMs || calls.maxTimeoutMs, calls.maxTimeoutMs);
}

/**
 * Starts a call without the caller's stack trace grpc-js records for every
 * call (for its error messages, which the gateway never shows: it describes a
 * failure by its status): capturing it is the single most expensive step of
 * starting a unary call.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** One unary RPC with raw bytes both ways; the signal cancels it. */
export function callUnary(client: grpc.Client, path: string, request: Uint8Array, metadata: grpc.Metadata, deadline: Date, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const call = withoutCallerStack(() =>
      client.makeUnaryRequest(path, identityCodec.serialize, identityCodec.deserialize, request, metadata, { deadline }, (err, value) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value ?? new Uint8Array());
      }),
    );
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const LEVELS = ['info', 'debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
const LEVEL_OF = new Map<string, (typeof LEVELS)[number]>(LEVELS.map((l, i) => [`LOG_SEVERITY_${i === 0 ? 'UNSPECIFIED' : l.toUpperCase()}`, l]));

/** Sends what a stream message says while the call runs: progress only forward (MCP requires it to increase), log lines at their level. */
function relayUpdate(update: NonNullable<ReturnType<typeof readCallUpdate>>, ctx: CallContext, last: { progress: number }, shard: string): void {
  if (update.progress && ctx.sendProgress) {
    const done = Number(update.progress.done ?? 0);
    if (done > last.progress) {
      last.progress = done;
      const total = Number(update.progress.total ?? 0);
      void ctx.sendProgress(done, update.progress.message ?? '', total > 0 ? total : undefined).catch(() => undefined);
    }
  }
  if (update.log && ctx.sendLog) {
    void ctx.sendLog(LEVEL_OF.get(update.log.level ?? '') ?? 'info', update.log.message ?? '', shard).catch(() => undefined);
  }
}

/**
 * Collects a server stream's result messages up to maxItems (then the shard is
 * told to stop). Messages that carry a CallUpdate are relayed as progress and
 * log lines and left out; a stream without them reports each message as a step.
 */
async function invokeStream(entry: ToolEntry, request: Uint8Array, metadata: grpc.Metadata, deadline: Date, ctx: CallContext, maxItems: number): Promise<{ chunks: Uint8Array[]; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let truncated = false;
  const last = { progress: -Infinity };
  const call = withoutCallerStack(() => entry.shard.client.makeServerStreamRequest(entry.path, identityCodec.serialize, identityCodec.deserialize, request, metadata, { deadline }));
  const onAbort = () => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      call.on('data', (chunk: Uint8Array) => {
        if (truncated) return;
        let update: ReturnType<typeof readCallUpdate>;
        try {
          update = readCallUpdate(entry.spec, chunk);
        } catch {
          update = undefined;
        }
        if (update) return relayUpdate(update, ctx, last, entry.shard.target.name);
        chunks.push(chunk);
        if (ctx.sendProgress && !entry.spec.updateField) {
          void ctx.sendProgress(chunks.length, `${chunks.length} message${chunks.length === 1 ? '' : 's'} received`).catch(() => undefined);
        }
        if (chunks.length >= maxItems) {
          // Bounded: keep what fits and stop the shard from producing more.
          truncated = true;
          call.cancel();
          resolve();
        }
      });
      call.on('error', (err: grpc.ServiceError) => (truncated && err.code === grpc.status.CANCELLED ? resolve() : reject(err)));
      call.on('end', () => resolve());
    });
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
  return { chunks, truncated };
}

/**
 * An interactive call: one bidirectional stream. The arguments go first; each
 * question the shard sends is put to the client and its answer sent back on
 * the same stream; the other messages are the result, as a server stream's.
 */
async function invokeInteractive(entry: ToolEntry, request: Uint8Array, metadata: grpc.Metadata, deadline: Date, ctx: CallContext, maxItems: number): Promise<{ chunks: Uint8Array[]; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  const last = { progress: -Infinity };
  const call = withoutCallerStack(() => entry.shard.client.makeBidiStreamRequest(entry.path, identityCodec.serialize, identityCodec.deserialize, metadata, { deadline }));
  const onAbort = () => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const ask = async (question: Record<string, unknown>) => {
    const id = String(question.id ?? '');
    const answer = ctx.ask ? await ctx.ask(question).catch((err: unknown) => ({ id, unsupported: `the client could not answer: ${err instanceof Error ? err.message : String(err)}` })) : { id, unsupported: 'the gateway cannot ask this client' };
    if (!ctx.signal.aborted) call.write(encodeClientAnswer(entry.spec, answer));
  };
  try {
    call.write(request);
    await new Promise<void>((resolve, reject) => {
      call.on('data', (chunk: Uint8Array) => {
        let question: Record<string, unknown> | undefined;
        let update: ReturnType<typeof readCallUpdate>;
        try {
          question = readClientQuestion(entry.spec, chunk);
          update = question ? undefined : readCallUpdate(entry.spec, chunk);
        } catch {
          question = undefined;
        }
        if (question) return void ask(question);
        if (update) return relayUpdate(update, ctx, last, entry.shard.target.name);
        if (chunks.length < maxItems) chunks.push(chunk);
      });
      call.on('error', reject);
      call.on('end', () => resolve());
    });
  } finally {
    call.end();
    ctx.signal.removeEventListener('abort', onAbort);
  }
  return { chunks, truncated: false };
}

/**
 * The tools that show whether a call of this tool took effect: the one its
 * contract names (verify_with), else every read-only tool of its shard.
 */
function verifyingTools(table: ToolTable, entry: ToolEntry): string[] {
  const tools = table.ofShard(entry.shard);
  const named = entry.spec.verifyWith && tools.find((t) => t.spec.method.name === entry.spec.verifyWith);
  if (named) return [named.name];
  return tools.filter((t) => t.spec.annotations.readOnlyHint === true).map((t) => t.name);
}

/** A failed gRPC call in words; a change cut off midway says it may have been applied and how to check. */
function failed(call: ToolCall<ToolEntry>, table: ToolTable, err: unknown): StageResult {
  const e = err as grpc.ServiceError;
  if (typeof e.code !== 'number' || !(e.code in grpc.status)) throw err;
  const entry = call.target;
  const shard = entry.shard.target.name;
  const transport = isTransportFailure(e);
  const failure = decodeCallFailure(e);
  if (transport) entry.shard.reconnectNow();
  const outcome = { code: failure.code, reason: `${failure.code}: ${failure.message}`, ...(failure.reason ? { detail: failure.reason } : {}) };
  // A dry run changes nothing; any other call that can change something and was cut off may have.
  const dryRun = call.plan !== undefined && !call.plan.id;
  if (!call.readOnly && !dryRun && isCutOff(e)) {
    const verify = verifyingTools(table, entry);
    return {
      outcome: { ...outcome, kind: 'unknown', reason: `${outcome.reason}: the change may or may not have been applied` },
      answer: errorResult(describeUnknownOutcome(call.name, shard, failure, transport, call.timeoutMs, verify, needsPlan(entry.spec)), {
        ...failure,
        shard,
        outcome: 'unknown',
        ...(verify.length === 1 ? { verifyWith: verify[0] } : {}),
      }),
    };
  }
  return { outcome: { ...outcome, kind: 'failed' }, answer: errorResult(describeCallFailure(call.name, shard, failure, transport, call.timeoutMs), { ...failure, shard }) };
}

/** The RPC itself, unary or server-streaming, with a deadline; the client's cancellation cancels it. */
export const invoke: Stage<ToolEntry> = {
  name: 'invoke',
  async run(call, deps) {
    const entry = call.target;
    const { ctx } = call;
    if (ctx.signal.aborted) return { outcome: { kind: 'failed', code: 'CANCELLED', reason: 'cancelled' }, answer: errorResult(`${call.name} was cancelled by the client.`, { code: 'CANCELLED' }) };
    call.timeoutMs = deadlineMs(entry.spec, deps.calls, ctx.meta);
    const deadline = new Date(Date.now() + call.timeoutMs);
    const metadata = new grpc.Metadata();
    metadata.set('x-homelab-mcp-subject', ctx.subject);
    const request = call.request!.bytes;
    call.sentAt = Date.now();
    try {
      call.received = entry.spec.interactive
        ? await invokeInteractive(entry, request, metadata, deadline, ctx, deps.calls.maxStreamItems)
        : entry.spec.streaming
        ? await invokeStream(entry, request, metadata, deadline, ctx, deps.calls.maxStreamItems)
        : { chunks: [await callUnary(entry.shard.client, entry.path, request, metadata, deadline, ctx.signal)], truncated: false };
    } catch (err) {
      return failed(call, deps.table, err);
    }
  },
};
