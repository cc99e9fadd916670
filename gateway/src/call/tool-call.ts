import type { CallToolResult, LoggingLevel, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { ToolEntry, ToolTable } from '../discovery/tool-table.js';
import { requestJson, type DecodedRequest, type DecodedResponse, type ToolSpec } from '../schema/index.js';
import type { PlanRegistry } from './plans.js';
import type { ApprovalChannel, Approvals } from '../approval/approvals.js';

/** Who calls, and what the client offers for this call. */
export interface CallContext {
  /** Who is calling (plans are bound to it; forwarded to the shard for its audit log). */
  subject: string;
  /** What the caller may do (homelab:read, homelab:write). */
  scopes: readonly string[];
  signal: AbortSignal;
  meta?: Record<string, unknown>;
  /** Present when the client sent a progress token. */
  sendProgress?: (progress: number, message: string, total?: number) => Promise<void>;
  /**
   * Asks the client a shard's question (homelab.mcp.v1.ClientQuestion as proto3
   * JSON) and gives the ClientAnswer as proto3 JSON; a client that cannot answer
   * gets `unsupported` with the reason, never a hang.
   */
  ask?: (question: Record<string, unknown>) => Promise<Record<string, unknown>>;
  /** A log line to the caller's session, sent only at or above the level it set (logging/setLevel). */
  sendLog?: (level: LoggingLevel, message: string, logger: string) => Promise<void>;
  /**
   * Present when the client supports elicitation: asks the user to confirm a
   * plan; true only for an explicit yes. Undefined means the user could not be asked.
   */
  confirm?: (message: string) => Promise<boolean | undefined>;
  /** Set only by the gateway when it applies a plan a person approved (GATEWAY_APPROVAL=human), never from the client. */
  approval?: { planId: string; by: string; via: ApprovalChannel };
}

/** A tool the gateway answers itself (homelab_status, diagnose_service): authorized and validated like any other. */
export interface OwnTool {
  definition: Tool;
  /** Throws InvalidArgumentsError for arguments that do not fit (the schema, and what a schema cannot say). */
  validate(args: unknown): void;
  run(args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> | CallToolResult;
}

export type CallTarget = ToolEntry | OwnTool;

/**
 * How a stage ended a call, or an attempt of it (a confirmed plan is applied
 * in a second attempt of the same call). Observers (metrics, audit, log)
 * derive everything they record from it.
 */
export interface CallOutcome {
  /**
   * ok: answered; invalid: arguments refused; refused: the gateway said no
   * (scope, plan); unavailable: the shard is down, nothing sent; failed: the
   * call failed; unknown: a call that can change something was cut off midway.
   */
  kind: 'ok' | 'invalid' | 'refused' | 'unavailable' | 'failed' | 'unknown';
  /** In words, for the audit line: why it was refused, how it failed. */
  reason?: string;
  /** gRPC status name of a failure (SHARD_OFFLINE when the shard was down). */
  code?: string;
  /** The shard's own reason for a failure (google.rpc.ErrorInfo), for the log. */
  detail?: string;
  /** What an answered call says it did. */
  effect?: 'planned' | 'applied';
}

export type StageName = 'authorize' | 'validate' | 'route' | 'plan-gate' | 'invoke' | 'decode' | 'redact' | 'confirm' | 'render' | 'run';

/** What a stage decided: nothing (go on), an outcome for the observers, the answer, a refusal to throw, or a stage to go back to. */
export type StageResult = void | { outcome?: CallOutcome; answer?: CallToolResult; error?: Error; again?: StageName };

export interface Stage<T extends CallTarget> {
  readonly name: StageName;
  run(call: ToolCall<T>, deps: CallDeps): StageResult | Promise<StageResult>;
}

export interface CallObserver {
  onOutcome(call: ToolCall, outcome: CallOutcome, stage: StageName): void;
}

export interface CallDeps {
  table: ToolTable;
  plans: PlanRegistry;
  /** Present under GATEWAY_APPROVAL=human: plans wait for a person. */
  approvals?: Approvals;
  calls: GatewayConfig['calls'];
  logger: Logger;
  ownTools: ReadonlyMap<string, OwnTool>;
  /** Told every outcome of every stage (metrics, audit, log). */
  observers: readonly CallObserver[];
}

/** Where a plan-bound call stands: its binding (same for the dry run and its apply) and the plan it applies, if any. */
export interface PlanState {
  binding: string;
  /** '' for a dry run. */
  id: string;
  /** The user approved the plan in this call (elicitation). */
  confirmed: boolean;
}

export function isShardTool(target: CallTarget): target is ToolEntry {
  return 'spec' in target;
}

/**
 * One tools/call as it passes through the stages: what the client sent, and
 * what each stage found out (the request decoded once, the plan, the answer
 * decoded once, the notes for the text).
 */
export class ToolCall<T extends CallTarget = CallTarget> {
  readonly labels: { tool: string; shard: string };
  readonly readOnly: boolean;
  /** Set by validate. */
  request?: DecodedRequest;
  /** Set by the plan gate, for tools that take plans. */
  plan?: PlanState;
  /** When the current attempt was sent (invoke). */
  sentAt?: number;
  timeoutMs = 0;
  /** What the shard sent, as it came (invoke). */
  received?: { chunks: Uint8Array[]; truncated: boolean };
  /** Set by decode. */
  response?: DecodedResponse;
  /** The result's structuredContent (redact). */
  structured?: Record<string, unknown>;
  /** Lines the text rendering ends with (a cut stream, redactions, how to apply a plan). */
  notes: string[] = [];
  private auditJson?: Record<string, unknown>;

  constructor(
    readonly name: string,
    public target: T,
    readonly args: unknown,
    readonly ctx: CallContext,
  ) {
    const shard = isShardTool(target) ? target.shard.target.kind : 'gateway';
    this.labels = { tool: name, shard };
    this.readOnly = this.annotations?.readOnlyHint === true;
  }

  get spec(): ToolSpec | undefined {
    return isShardTool(this.target) ? this.target.spec : undefined;
  }

  get annotations(): { readOnlyHint?: boolean } | undefined {
    return isShardTool(this.target) ? this.target.spec.annotations : this.target.definition.annotations;
  }

  /** The arguments an audit line shows: the decoded request once there is one (as the shard gets it), else what the client sent. */
  auditArguments(): unknown {
    const spec = this.spec;
    if (!spec || !this.request) return this.args ?? {};
    this.auditJson ??= requestJson(spec, this.request.message, 'proto');
    return this.auditJson;
  }

  /** The request changed (its plan id was set): it is sent again, as a new attempt. */
  startOver(bytes: Uint8Array): void {
    if (this.request) this.request.bytes = bytes;
    this.auditJson = undefined;
    this.sentAt = undefined;
    this.received = undefined;
    this.response = undefined;
    this.structured = undefined;
    this.notes = [];
  }
}

/** Runs a call through its stages, telling the observers every outcome; a stage may send the call back to an earlier one. */
export async function runStages<T extends CallTarget>(call: ToolCall<T>, stages: readonly Stage<T>[], deps: CallDeps): Promise<CallToolResult> {
  for (let i = 0; i < stages.length; ) {
    const stage = stages[i]!;
    const pending = stage.run(call, deps);
    const step = pending instanceof Promise ? await pending : pending;
    if (step?.outcome) for (const observer of deps.observers) observer.onOutcome(call, step.outcome, stage.name);
    if (step?.error) throw step.error;
    if (step?.answer) return step.answer;
    if (!step?.again) i++;
    else if ((i = stages.findIndex((s) => s.name === step.again)) < 0) throw new Error(`${call.name}: no stage ${step.again} to go back to`);
  }
  throw new Error(`${call.name}: no stage answered the call`);
}
