import { createHash, randomUUID } from 'node:crypto';
import { ShardError } from './errors.js';

interface Entry<T> {
  key: string;
  payload: T;
  expiresAt: number;
  used: boolean;
}

/** Stable JSON of a request without its plan_id: what a plan is bound to. */
export function requestKey(request: object): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v as object).filter((k) => k !== 'planId' && k !== 'plan_id').sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(request))).digest('hex');
}

/**
 * The shard's side of plan -> apply: a plan is bound to the exact request it
 * was made for, expires, and can be applied once. (The gateway enforces the
 * same per caller; the shard never applies a change it did not plan.)
 */
export class PlanBook<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 1000,
  ) {}

  create(request: object, payload: T): { id: string; expiresAt: Date } {
    const now = Date.now();
    for (const [id, e] of this.entries) if (e.expiresAt < now || this.entries.size >= this.max) this.entries.delete(id);
    const id = randomUUID();
    const expiresAt = now + this.ttlMs;
    this.entries.set(id, { key: requestKey(request), payload, expiresAt, used: false });
    return { id, expiresAt: new Date(expiresAt) };
  }

  /** The planned payload for this request; refuses unknown, expired, reused or tampered plans. */
  take(planId: string, request: object): T {
    const e = this.entries.get(planId);
    if (!e) throw new ShardError('FAILED_PRECONDITION', `plan ${planId} is unknown (plans live ${Math.round(this.ttlMs / 60_000)} minutes and do not survive a restart)`, { reason: 'PLAN_UNKNOWN', hint: 'Call the tool again without plan_id to get a fresh plan.' });
    if (e.used) throw new ShardError('FAILED_PRECONDITION', `plan ${planId} was already applied`, { reason: 'PLAN_USED', hint: 'Plan again if you want to make another change.' });
    if (e.expiresAt < Date.now()) throw new ShardError('FAILED_PRECONDITION', `plan ${planId} expired`, { reason: 'PLAN_EXPIRED', hint: 'Call the tool again without plan_id to get a fresh plan.' });
    if (e.key !== requestKey(request)) throw new ShardError('FAILED_PRECONDITION', `plan ${planId} was made for different arguments`, { reason: 'PLAN_MISMATCH', hint: 'Apply with exactly the arguments of the plan, or plan again.' });
    e.used = true;
    return e.payload;
  }

  /** Gives a plan back when applying it failed before anything changed. */
  release(planId: string): void {
    const e = this.entries.get(planId);
    if (e) e.used = false;
  }
}
