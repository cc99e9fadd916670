/** Why a plan cannot be applied: each side words it for its own callers. */
export type PlanRefusalReason = 'unknown' | 'used' | 'expired' | 'mismatch';

export class PlanRefusal extends Error {
  constructor(
    readonly reason: PlanRefusalReason,
    readonly planId: string,
  ) {
    super(`plan ${planId} cannot be applied: ${reason}`);
    this.name = 'PlanRefusal';
  }
}

interface Entry<T> {
  binding: string;
  data: T;
  expiresAt: number;
  used: boolean;
}

export interface PlanLedgerOptions {
  /** How long a plan stays usable when its issuer gives no earlier expiry. */
  ttlMs: number;
  /** Plans kept at most; the oldest go first. */
  max?: number;
}

/**
 * Plans handed out, each bound to the request it was made for (bindRequest),
 * usable once, until it expires. The gateway keeps one per caller and tool,
 * each shard one for the changes it planned; both refuse the same way.
 */
export class PlanLedger<T> {
  private readonly entries = new Map<string, Entry<T>>();
  readonly ttlMs: number;
  private readonly max: number;

  constructor(options: PlanLedgerOptions) {
    this.ttlMs = options.ttlMs;
    this.max = options.max ?? Infinity;
  }

  /** Records a plan; returns when it expires (ms since the epoch). */
  issue(id: string, binding: string, data: T, expiresAt = Date.now() + this.ttlMs): number {
    this.dropExpired();
    for (const oldest of this.entries.keys()) {
      if (this.entries.size < this.max) break;
      this.entries.delete(oldest);
    }
    this.entries.set(id, { binding, data, expiresAt, used: false });
    return expiresAt;
  }

  /**
   * Uses the plan for a request with this binding and returns what was
   * recorded with it, or throws a PlanRefusal. A plan `belongs` rejects counts
   * as unknown: a caller learns nothing about plans that are not theirs.
   */
  redeem(id: string, binding: string, belongs: (data: T) => boolean = () => true): T {
    const entry = this.entries.get(id);
    if (!entry || !belongs(entry.data)) throw new PlanRefusal('unknown', id);
    if (entry.used) throw new PlanRefusal('used', id);
    if (Date.now() > entry.expiresAt) {
      this.entries.delete(id);
      throw new PlanRefusal('expired', id);
    }
    if (entry.binding !== binding) throw new PlanRefusal('mismatch', id);
    entry.used = true;
    return entry.data;
  }

  get size(): number {
    return this.entries.size;
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [id, entry] of this.entries) if (now > entry.expiresAt) this.entries.delete(id);
  }
}
