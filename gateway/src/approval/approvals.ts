import { EventEmitter } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuditLog } from '../trust/audit.js';
import type { CallObserver } from '../call/tool-call.js';

/**
 * pending: waits for a person; approved: a person said yes, the apply runs;
 * applied / failed: what the apply did; rejected: a person said no; expired:
 * nobody decided in time. Only pending plans can be decided.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'applied' | 'failed' | 'rejected' | 'expired';

/** Where a person decided: in the MCP client (elicitation) or in the gateway's console. */
export type ApprovalChannel = 'elicitation' | 'console';

/** A person's decision, as the audit log keeps it. */
export interface Decision {
  /** Who decided: the console session's or the client's identity. */
  by: string;
  via: ApprovalChannel;
  at: number;
  reason?: string;
}

/** A plan as a person sees it before deciding: the exact change and who asked for it. */
export interface PlanForApproval {
  id: string;
  tool: string;
  /** The caller that asked for the plan (the apply runs as them). */
  subject: string;
  /** The arguments as the caller sent them: the apply sends exactly these again, with the plan id. */
  arguments: Record<string, unknown>;
  /** The same arguments with secrets redacted, for people. */
  shownArguments: unknown;
  summary: string;
  /** The shard's diff of what would be written. */
  diff: string;
  /** The plan in the words the model read. */
  text: string;
  secretFields: readonly string[];
  createdAt: number;
  expiresAt: number;
}

export interface ApprovalRecord extends PlanForApproval {
  status: ApprovalStatus;
  decision?: Decision;
  /** What the apply answered, in words. */
  outcome?: string;
}

/** Runs the apply of an approved plan through the ordinary call pipeline, as the plan's caller, carrying the approval. */
export type ApplyApproved = (plan: ApprovalRecord, decision: Decision) => Promise<CallToolResult>;

export class ApprovalError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}

const FINAL: ReadonlySet<ApprovalStatus> = new Set(['applied', 'failed', 'rejected', 'expired']);
/** Decided plans kept for the console and for late waiters. */
const KEEP_DECIDED = 200;

const textOf = (result: CallToolResult) =>
  result.content
    .map((c) => (c.type === 'text' ? c.text : ''))
    .filter(Boolean)
    .join('\n');

/**
 * Plans that wait for a person (GATEWAY_APPROVAL=human). The model that asked
 * for a plan cannot apply it; a person approves it in the client
 * (elicitation) or the console, and then the gateway applies it as the
 * caller, through the same pipeline, with the approval attached. Every
 * decision goes to the audit log with the approver's identity. Emits
 * `changed` with the record whenever one changes.
 */
export class Approvals extends EventEmitter<{ changed: [ApprovalRecord] }> {
  private readonly records = new Map<string, ApprovalRecord>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private applyApproved?: ApplyApproved;
  /** Where people approve: the console's URL, once the gateway listens. */
  consoleUrl = '/console';

  constructor(private readonly audit: AuditLog) {
    super();
  }

  /** Wired once the call pipeline exists (the apply goes through it). */
  setApply(apply: ApplyApproved): void {
    this.applyApproved = apply;
  }

  /** A new plan waits for a person until it expires. */
  propose(plan: PlanForApproval): ApprovalRecord {
    const record: ApprovalRecord = { ...plan, status: 'pending' };
    this.records.set(plan.id, record);
    const timer = setTimeout(() => this.expire(plan.id), Math.max(0, plan.expiresAt - Date.now()));
    timer.unref();
    this.timers.set(plan.id, timer);
    this.trim();
    this.emit('changed', record);
    return record;
  }

  get(id: string): ApprovalRecord | undefined {
    return this.records.get(id);
  }

  /** Every plan known, newest first. */
  list(): ApprovalRecord[] {
    return [...this.records.values()].reverse();
  }

  /**
   * A person's yes. From the console the gateway then applies the plan and
   * resolves with the record as the apply left it; from elicitation the call
   * that asked applies it itself (the record follows through observe()).
   */
  async approve(id: string, by: string, via: ApprovalChannel): Promise<ApprovalRecord> {
    const record = this.decide(id, 'approved', { by, via, at: Date.now() });
    if (via === 'elicitation') return record;
    if (!this.applyApproved) throw new Error('approvals: no apply wired');
    try {
      const result = await this.applyApproved(record, record.decision!);
      // The observer has seen the apply's outcome; a refusal before the shard (a plan the shard no longer knows) is settled here.
      if (record.status === 'approved') this.settle(record, result.isError ? 'failed' : 'applied', textOf(result));
      else record.outcome ??= textOf(result);
    } catch (err) {
      this.settle(record, 'failed', err instanceof Error ? err.message : String(err));
    }
    return record;
  }

  /** A person's no, with why: the plan can never be applied. */
  reject(id: string, by: string, via: ApprovalChannel, reason: string): ApprovalRecord {
    return this.decide(id, 'rejected', { by, via, at: Date.now(), reason: reason.trim() || 'no reason given' });
  }

  /**
   * Resolves once the plan is decided and applied (or expires), or with it
   * still pending when the wait ends (timeout or the caller's cancellation).
   * `tick` is called every `tickMs` while it waits.
   */
  wait(id: string, timeoutMs: number, signal: AbortSignal, tick?: () => void, tickMs = 5000): Promise<ApprovalRecord> {
    const record = this.records.get(id);
    if (!record) return Promise.reject(new ApprovalError(`no plan ${id} waits for approval`, 404));
    if (FINAL.has(record.status)) return Promise.resolve(record);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        clearInterval(ticker);
        signal.removeEventListener('abort', done);
        this.off('changed', onChange);
        resolve(record);
      };
      const onChange = (changed: ApprovalRecord) => {
        if (changed.id === id && FINAL.has(changed.status)) done();
      };
      const timer = setTimeout(done, timeoutMs);
      const ticker = setInterval(() => tick?.(), tickMs);
      this.on('changed', onChange);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Follows the applies of approved plans (both channels): their outcome settles the record. */
  observer(): CallObserver {
    return {
      onOutcome: (call, outcome) => {
        const id = call.plan?.id;
        const record = id ? this.records.get(id) : undefined;
        if (!record || record.status !== 'approved') return;
        if (outcome.kind === 'ok' && outcome.effect === 'applied') this.settle(record, 'applied', 'applied');
        else if (outcome.kind !== 'ok') this.settle(record, 'failed', outcome.reason ?? outcome.kind);
      },
    };
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private decide(id: string, status: 'approved' | 'rejected', decision: Decision): ApprovalRecord {
    const record = this.records.get(id);
    if (!record) throw new ApprovalError(`No plan ${id} waits for approval: it was never proposed, or it is gone (only the last ${KEEP_DECIDED} decided plans are kept).`, 404);
    if (record.status === 'pending' && Date.now() > record.expiresAt) this.expire(id);
    if (record.status !== 'pending') {
      const by = record.decision ? ` by ${record.decision.by} (${record.decision.via})` : '';
      throw new ApprovalError(`Plan ${id} was already ${record.status}${by}; only a pending plan can be approved or rejected.`, 409);
    }
    record.status = status;
    record.decision = decision;
    this.clearTimer(id);
    this.audit.write(
      {
        subject: record.subject,
        tool: record.tool,
        arguments: record.shownArguments,
        planId: id,
        result: status,
        approver: decision.by,
        via: decision.via,
        ...(decision.reason ? { reason: decision.reason } : {}),
        durationMs: 0,
      },
      [...record.secretFields],
    );
    this.emit('changed', record);
    return record;
  }

  private settle(record: ApprovalRecord, status: 'applied' | 'failed', outcome: string): void {
    record.status = status;
    record.outcome = outcome;
    this.emit('changed', record);
  }

  private expire(id: string): void {
    const record = this.records.get(id);
    this.clearTimer(id);
    if (!record || record.status !== 'pending') return;
    record.status = 'expired';
    this.emit('changed', record);
  }

  private clearTimer(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private trim(): void {
    const decided = [...this.records.values()].filter((r) => r.status !== 'pending');
    for (const r of decided.slice(0, Math.max(0, decided.length - KEEP_DECIDED))) this.records.delete(r.id);
  }
}
