export interface LimitSettings {
  /** Requests per minute per subject; 0 turns rate limiting off. */
  perMinute: number;
  /** Requests a subject may send at once above the steady rate. */
  burst: number;
  /** Requests of one subject in flight at once; 0 turns the cap off. */
  maxInflight: number;
}

export type Admission = { ok: true; release: () => void } | { ok: false; retryAfterSeconds: number; reason: string };

interface Bucket {
  tokens: number;
  refilledAt: number;
  inflight: number;
  lastSeen: number;
}

const IDLE_BUCKET_MS = 10 * 60_000;

/**
 * Per-subject admission for requests: a token bucket (steady rate plus
 * burst) and a cap on requests in flight. Subjects that go quiet are
 * forgotten, so memory follows the active callers only.
 */
export class SubjectLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly settings: LimitSettings) {
    this.sweep = setInterval(() => this.forgetIdle(), IDLE_BUCKET_MS);
    this.sweep.unref();
  }

  /**
   * Why a batch of `messages` can never be admitted (it is larger than the
   * burst or the in-flight cap), or undefined when it can.
   */
  refuseOversized(messages: number): string | undefined {
    const { perMinute, burst, maxInflight } = this.settings;
    if (perMinute > 0 && messages > burst) return `a batch of ${messages} messages is more than the ${burst} a caller may send at once (GATEWAY_RATE_BURST)`;
    if (maxInflight > 0 && messages > maxInflight) return `a batch of ${messages} messages is more than the ${maxInflight} requests a caller may have in flight (GATEWAY_MAX_INFLIGHT_PER_SUBJECT)`;
    return undefined;
  }

  /** Admits one HTTP request that carries `cost` JSON-RPC messages: each counts against the rate and the in-flight cap. */
  admit(subject: string, cost = 1, now = Date.now()): Admission {
    const { perMinute, burst, maxInflight } = this.settings;
    let b = this.buckets.get(subject);
    if (!b) {
      b = { tokens: burst, refilledAt: now, inflight: 0, lastSeen: now };
      this.buckets.set(subject, b);
    }
    b.lastSeen = now;
    if (perMinute > 0) {
      const perMs = perMinute / 60_000;
      b.tokens = Math.min(burst, b.tokens + (now - b.refilledAt) * perMs);
      b.refilledAt = now;
      if (b.tokens < cost) {
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - b.tokens) / perMs / 1000)), reason: `more than ${perMinute} requests per minute (GATEWAY_RATE_LIMIT_PER_MINUTE)` };
      }
    }
    if (maxInflight > 0 && b.inflight + cost > maxInflight) {
      return { ok: false, retryAfterSeconds: 1, reason: `more than ${maxInflight} requests at once (GATEWAY_MAX_INFLIGHT_PER_SUBJECT)` };
    }
    if (perMinute > 0) b.tokens -= cost;
    b.inflight += cost;
    const bucket = b;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        bucket.inflight -= cost;
        bucket.lastSeen = Date.now();
      },
    };
  }

  close(): void {
    clearInterval(this.sweep);
  }

  private forgetIdle(): void {
    const cutoff = Date.now() - IDLE_BUCKET_MS;
    for (const [subject, b] of this.buckets) if (b.inflight === 0 && b.lastSeen < cutoff) this.buckets.delete(subject);
  }
}
