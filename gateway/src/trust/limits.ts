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

  admit(subject: string, now = Date.now()): Admission {
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
      if (b.tokens < 1) {
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)), reason: `more than ${perMinute} requests per minute (GATEWAY_RATE_LIMIT_PER_MINUTE)` };
      }
    }
    if (maxInflight > 0 && b.inflight >= maxInflight) {
      return { ok: false, retryAfterSeconds: 1, reason: `more than ${maxInflight} requests at once (GATEWAY_MAX_INFLIGHT_PER_SUBJECT)` };
    }
    if (perMinute > 0) b.tokens -= 1;
    b.inflight++;
    const bucket = b;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        bucket.inflight--;
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
