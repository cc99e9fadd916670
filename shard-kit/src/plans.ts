import { randomUUID } from 'node:crypto';
import { PlanLedger, PlanRefusal, bindRequest, type PlanRefusalReason } from '@homelab-mcp/plan-binding';
import { ShardError } from './errors.js';

/** A generated message type (ts-proto): its proto3 JSON is what a plan is bound to, as in the gateway. */
export interface RequestCodec<M> {
  toJSON(message: M): unknown;
}

/** A request reduced to what a plan is bound to. */
export interface PlanRequest {
  readonly binding: string;
}

/** The plan binding of a request: `planRequest(SyncBrandRequest, req)`. */
export function planRequest<M>(codec: RequestCodec<M>, request: M): PlanRequest {
  return { binding: bindRequest(codec.toJSON(request)) };
}

const AGAIN = 'Call the tool again without plan_id to get a fresh plan.';

function refusal(err: PlanRefusal, ttlMs: number): ShardError {
  const id = err.planId;
  const words: Record<PlanRefusalReason, [string, string, string]> = {
    unknown: [`plan ${id} is unknown (plans live ${Math.round(ttlMs / 60_000)} minutes and do not survive a restart)`, 'PLAN_UNKNOWN', AGAIN],
    used: [`plan ${id} was already applied`, 'PLAN_USED', 'Plan again if you want to make another change.'],
    expired: [`plan ${id} expired`, 'PLAN_EXPIRED', AGAIN],
    mismatch: [`plan ${id} was made for different arguments`, 'PLAN_MISMATCH', 'Apply with exactly the arguments of the plan, or plan again.'],
  };
  const [message, reason, hint] = words[err.reason];
  return new ShardError('FAILED_PRECONDITION', message, { reason, hint });
}

/**
 * The shard's side of plan -> apply: a plan is bound to the exact request it
 * was made for (the same binding as the gateway's), expires, and can be
 * applied once. (The gateway enforces the same per caller; the shard never
 * applies a change it did not plan.)
 */
export class PlanBook<T> {
  private readonly ledger: PlanLedger<T>;

  constructor(ttlMs = 10 * 60_000, max = 1000) {
    this.ledger = new PlanLedger({ ttlMs, max });
  }

  create(request: PlanRequest, payload: T): { id: string; expiresAt: Date } {
    const id = randomUUID();
    const expiresAt = this.ledger.issue(id, request.binding, payload);
    return { id, expiresAt: new Date(expiresAt) };
  }

  /** The planned payload for this request; refuses unknown, expired, reused or tampered plans. */
  take(planId: string, request: PlanRequest): T {
    try {
      return this.ledger.redeem(planId, request.binding);
    } catch (err) {
      throw err instanceof PlanRefusal ? refusal(err, this.ledger.ttlMs) : err;
    }
  }
}
