import * as grpc from '@grpc/grpc-js';
import { cleanJson } from '@homelab-mcp/hygiene';
import type { AuditLog } from '../trust/audit.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { identityCodec } from '../discovery/wire.js';
import type { ToolEntry, ToolTable } from '../discovery/tool-table.js';
import { InvalidArgumentsError, decodeResponse, encodeRequest, mergeResponses, summarizeResult, type ToolSpec } from '../schema/index.js';
import { decodeCallFailure, describeCallFailure, describeUnknownOutcome, isCutOff, isTransportFailure } from './grpc-errors.js';
import type { GatewayMetrics } from './metrics.js';
import { PlanRefusedError, needsPlan, type PlanRegistry } from './plans.js';
import { mayUse, scopeFor } from '../trust/principal.js';

/** `_meta` key a client may set to ask for a longer or shorter deadline (still capped by the tool). */
export const TIMEOUT_META_KEY = 'homelab-mcp/timeoutMs';
/** `_meta` key of a failed result that carries the decoded gRPC status. */
export const ERROR_META_KEY = 'homelab-mcp/error';
/** `_meta` key of a plan the user was asked to confirm and did not. */
export const CONFIRMATION_META_KEY = 'homelab-mcp/confirmation';

export interface CallDeps {
  table: ToolTable;
  plans: PlanRegistry;
  metrics: GatewayMetrics;
  calls: GatewayConfig['calls'];
  logger: Logger;
  /** Where calls that can change something are recorded. */
  audit?: AuditLog;
}

export interface CallContext {
  /** Who is calling (plans are bound to it; forwarded to the shard for its audit log). */
  subject: string;
  /** What the caller may do (homelab:read, homelab:write). */
  scopes: readonly string[];
  signal: AbortSignal;
  meta?: Record<string, unknown>;
  /** Present when the client sent a progress token. */
  sendProgress?: (progress: number, message: string) => Promise<void>;
  /**
   * Present when the client supports elicitation: asks the user to confirm a
   * plan; true only for an explicit yes. Undefined means the user could not be asked.
   */
  confirm?: (message: string) => Promise<boolean | undefined>;
}

class CallAbortedError extends Error {}

function deadlineMs(spec: ToolSpec, calls: GatewayConfig['calls'], meta: Record<string, unknown> | undefined): number {
  const asked = Number(meta?.[TIMEOUT_META_KEY]);
  const requested = Number.isFinite(asked) && asked > 0 ? asked : (spec.timeoutMs || calls.defaultTimeoutMs);
  return Math.min(requested, spec.maxTimeoutMs || calls.maxTimeoutMs, calls.maxTimeoutMs);
}

function errorResult(text: string, error?: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], ...(error ? { _meta: { [ERROR_META_KEY]: error } } : {}) };
}

function invokeUnary(entry: ToolEntry, request: Uint8Array, metadata: grpc.Metadata, deadline: Date, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const call = entry.shard.client.makeUnaryRequest(entry.path, identityCodec.serialize, identityCodec.deserialize, request, metadata, { deadline }, (err, value) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value ?? new Uint8Array());
    });
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function invokeStream(
  entry: ToolEntry,
  request: Uint8Array,
  metadata: grpc.Metadata,
  deadline: Date,
  ctx: CallContext,
  maxItems: number,
): Promise<{ chunks: Uint8Array[]; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let truncated = false;
  const call = entry.shard.client.makeServerStreamRequest(entry.path, identityCodec.serialize, identityCodec.deserialize, request, metadata, { deadline });
  const onAbort = () => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      call.on('data', (chunk: Uint8Array) => {
        if (truncated) return;
        chunks.push(chunk);
        if (ctx.sendProgress) {
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
 * The client can ask its user: show the plan, apply it on an explicit yes
 * (through the same plan check as any apply), otherwise leave everything as it
 * is and say so. If the user cannot be asked, the plan is returned as usual.
 */
async function confirmAndApply(
  deps: CallDeps,
  name: string,
  args: unknown,
  ctx: CallContext,
  planId: string,
  plan: string,
  planResult: Record<string, unknown>,
): Promise<CallToolResult> {
  const { confirm, ...rest } = ctx;
  const answer = await confirm!(`${name} wants to make this change:\n\n${plan}\n\nApply it?`).catch(() => undefined);
  if (answer === true) {
    const applied = await callShardTool(deps, name, { ...(args as Record<string, unknown>), plan_id: planId }, rest);
    if (!applied.isError) applied.content.unshift({ type: 'text', text: 'The user confirmed the plan; it was applied.' });
    return applied;
  }
  const why = answer === false ? 'The user declined the change; nothing was applied.' : 'The user did not confirm (the question was dismissed or could not be shown); nothing was applied.';
  return {
    content: [{ type: 'text', text: `${why}\n${plan}\nTo apply it anyway, call ${name} again with the same arguments and plan_id "${planId}".` }],
    // The result stays the dry run's (it matches the tool's output schema); the answer travels in _meta.
    structuredContent: planResult,
    _meta: { [CONFIRMATION_META_KEY]: { answer: answer === false ? 'declined' : 'unconfirmed', planId } },
  };
}

/** The JSON-RPC answer to arguments that do not fit a tool's schema: every violation, by path. */
export function invalidParams(tool: string, err: InvalidArgumentsError): McpError {
  const list = err.violations.map((v) => `${v.path || '(arguments)'}: ${v.message}`).join('; ');
  return new McpError(ErrorCode.InvalidParams, `Invalid arguments for ${tool}: ${list}`, { violations: err.violations });
}

/**
 * The tools that show whether a call of this tool took effect: the one its
 * contract names (verify_with), else every read-only tool of its shard.
 */
function verifyingTools(deps: CallDeps, entry: ToolEntry): string[] {
  const tools = deps.table.ofShard(entry.shard);
  const named = entry.spec.verifyWith && tools.find((t) => t.spec.method.name === entry.spec.verifyWith);
  if (named) return [named.name];
  return tools.filter((t) => t.spec.annotations.readOnlyHint === true).map((t) => t.name);
}

/**
 * Audits a call of a tool that can change something which was refused before
 * it reached its shard (scope, arguments, plan, limits, an offline shard):
 * every attempted write leaves a line, with the reason.
 */
export function auditRefusedCall(deps: Pick<CallDeps, 'table' | 'audit'>, subject: string, tool: unknown, args: unknown, reason: string, planId?: string): void {
  if (!deps.audit || typeof tool !== 'string') return;
  const entry = deps.table.find(tool);
  if (!entry || entry.spec.annotations.readOnlyHint === true) return;
  deps.audit.write({ subject, tool, arguments: args ?? {}, ...(planId ? { planId } : {}), result: 'refused', error: reason, durationMs: 0 }, entry.spec.secretFields);
}

/** tools/call for a shard tool: validate, forward with a deadline, render the result or the failure. */
export async function callShardTool(deps: CallDeps, name: string, args: unknown, ctx: CallContext): Promise<CallToolResult> {
  const entry = deps.table.find(name);
  if (!entry) {
    throw new McpError(ErrorCode.InvalidParams, `Unknown tool "${name}". Call tools/list for the tools available now.`);
  }
  const shardName = entry.shard.target.name;
  const labels = { tool: name, shard: shardName };
  const spec = entry.spec;
  if (!mayUse(ctx.scopes, spec.annotations)) {
    const needed = scopeFor(spec.annotations);
    deps.metrics.calls.inc({ ...labels, outcome: 'refused' });
    auditRefusedCall(deps, ctx.subject, name, args, `scope: missing ${needed}`);
    return errorResult(
      `Refused: ${name} ${needed === 'homelab:write' ? 'can change something and ' : ''}needs the ${needed} scope; this caller has ${ctx.scopes.join(', ') || 'no scope'}.\nWhat to do: use a token that grants ${needed} (in Authentik, add a scope mapping for it to the gateway's provider).`,
      { code: 'PERMISSION_DENIED', reason: 'MISSING_SCOPE', scope: needed },
    );
  }
  // Arguments are checked first: a wrong call gets the same answer whether or not the shard is up.
  let request: Uint8Array;
  try {
    request = encodeRequest(spec, args ?? {});
  } catch (err) {
    if (err instanceof InvalidArgumentsError) {
      deps.metrics.calls.inc({ ...labels, outcome: 'invalid' });
      const refusal = invalidParams(name, err);
      auditRefusedCall(deps, ctx.subject, name, args, `validation: ${refusal.message}`);
      throw refusal;
    }
    throw err;
  }
  if (!entry.shard.isServing()) {
    const status = entry.shard.status();
    deps.metrics.calls.inc({ ...labels, outcome: 'error' });
    deps.metrics.errors.inc({ ...labels, code: 'SHARD_OFFLINE' });
    auditRefusedCall(deps, ctx.subject, name, args, `shard offline: the ${shardName} shard is ${status.state.replace('_', ' ')}; nothing was sent`);
    return errorResult(
      `${name} is unavailable: the ${shardName} shard is ${status.state.replace('_', ' ')} since ${status.since.toISOString()}` +
        `${status.lastError ? ` (${status.lastError})` : ''}.\nWhat to do: check shard-${shardName} and the service behind it; the tool returns as soon as the shard reports SERVING. homelab_status shows every shard.`,
      { code: 'UNAVAILABLE', reason: 'SHARD_OFFLINE', shard: shardName, state: status.state },
    );
  }

  let argsHash: string | undefined;
  if (needsPlan(spec)) {
    const inspected = deps.plans.inspect(spec, request);
    argsHash = inspected.argsHash;
    if (inspected.planId) {
      try {
        deps.plans.redeem(ctx.subject, name, inspected.planId, inspected.argsHash);
      } catch (err) {
        if (!(err instanceof PlanRefusedError)) throw err;
        deps.metrics.calls.inc({ ...labels, outcome: 'refused' });
        auditRefusedCall(deps, ctx.subject, name, args, `plan: ${err.message}`, inspected.planId);
        return errorResult(err.message, { code: 'FAILED_PRECONDITION', reason: 'PLAN_REFUSED' });
      }
      argsHash = undefined;
    }
  }

  // Calls that can change something are audited, whatever their outcome.
  const started = Date.now();
  const audited = spec.annotations.readOnlyHint !== true;
  const planIdArg = typeof (args as { plan_id?: unknown } | undefined)?.plan_id === 'string' ? String((args as { plan_id: string }).plan_id) : undefined;
  const audit = (result: string, error?: string) => {
    if (!audited || !deps.audit) return;
    deps.audit.write({ subject: ctx.subject, tool: name, arguments: args ?? {}, ...(planIdArg ? { planId: planIdArg } : {}), result, ...(error ? { error } : {}), durationMs: Date.now() - started }, spec.secretFields);
  };

  const timeoutMs = deadlineMs(spec, deps.calls, ctx.meta);
  const deadline = new Date(Date.now() + timeoutMs);
  const metadata = new grpc.Metadata();
  metadata.set('x-homelab-mcp-subject', ctx.subject);
  const endTimer = deps.metrics.latency.startTimer(labels);
  let timed = false;
  // Observed once: a confirmation's wait for the user is not shard latency.
  const stopTimer = () => {
    if (!timed) endTimer();
    timed = true;
  };
  try {
    if (ctx.signal.aborted) throw new CallAbortedError();
    let response: Uint8Array;
    let note = '';
    if (spec.streaming) {
      const { chunks, truncated } = await invokeStream(entry, request, metadata, deadline, ctx, deps.calls.maxStreamItems);
      response = mergeResponses(spec, chunks);
      if (truncated) note = `\n(Stopped after ${chunks.length} messages, the gateway's limit; narrow the request for the rest.)`;
    } else {
      response = await invokeUnary(entry, request, metadata, deadline, ctx.signal);
    }
    let decoded: Record<string, unknown>;
    try {
      decoded = decodeResponse(spec, response);
    } catch (err) {
      // The call happened; only its answer is beyond what protobuf decoding takes (nesting past 100 levels, say).
      const message = err instanceof Error ? err.message : String(err);
      deps.metrics.calls.inc({ ...labels, outcome: 'error' });
      deps.metrics.errors.inc({ ...labels, code: 'INTERNAL' });
      audit('error', `unreadable answer: ${message}`);
      return errorResult(
        `${name} failed: the ${shardName} shard's answer could not be read (${message}).\nWhat to do: the call itself ran${audited ? ', so a change may have been made' : ''}; narrow the request, or look at the data behind it outside homelab-mcp.`,
        { code: 'INTERNAL', reason: 'UNREADABLE_ANSWER', message, shard: shardName },
      );
    }
    // Output hygiene: nothing secret-looking or escape-coded reaches the model, whatever the shard sent.
    const cleaned = cleanJson(decoded);
    const structured = cleaned.value;
    let text = summarizeResult(spec, structured) + note;
    if (cleaned.redactions) text += `\n(${cleaned.redactions} secret-looking value${cleaned.redactions === 1 ? ' was' : 's were'} redacted.)`;
    let planId: string | undefined;
    if (argsHash !== undefined) {
      planId = deps.plans.record(ctx.subject, name, spec, argsHash, response);
      if (planId) text += `\nThis is a plan; nothing changed yet. To apply it, call ${name} again with the same arguments and plan_id "${planId}".`;
    }
    deps.metrics.calls.inc({ ...labels, outcome: 'ok' });
    audit(structured.applied === true ? 'applied' : structured.plan ? 'planned' : 'ok');
    if (planId && ctx.confirm) {
      stopTimer();
      return await confirmAndApply(deps, name, args, ctx, planId, summarizeResult(spec, structured), structured);
    }
    return { content: [{ type: 'text', text }], structuredContent: structured };
  } catch (err) {
    if (err instanceof CallAbortedError) {
      audit('error', 'cancelled');
      return errorResult(`${name} was cancelled by the client.`, { code: 'CANCELLED' });
    }
    const e = err as grpc.ServiceError;
    if (typeof e.code !== 'number' || !(e.code in grpc.status)) throw err;
    const transport = isTransportFailure(e);
    const failure = decodeCallFailure(e);
    deps.metrics.calls.inc({ ...labels, outcome: 'error' });
    deps.metrics.errors.inc({ ...labels, code: failure.code });
    if (transport) entry.shard.reconnectNow();
    deps.logger.info({ ...labels, code: failure.code, reason: failure.reason }, 'tool call failed');
    // A dry run changes nothing; any other call that can change something and was cut off may have.
    if (audited && argsHash === undefined && isCutOff(e)) {
      const verify = verifyingTools(deps, entry);
      const words = describeUnknownOutcome(name, shardName, failure, transport, timeoutMs, verify, needsPlan(spec));
      audit('unknown', `${failure.code}: ${failure.message}: the change may or may not have been applied`);
      return errorResult(words, { ...failure, shard: shardName, outcome: 'unknown', ...(verify.length === 1 ? { verifyWith: verify[0] } : {}) });
    }
    audit('error', `${failure.code}: ${failure.message}`);
    return errorResult(describeCallFailure(name, shardName, failure, transport, timeoutMs), { ...failure, shard: shardName });
  } finally {
    stopTimer();
  }
}
