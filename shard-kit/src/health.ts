import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';

export interface HealthProbe {
  /** Checks the upstream; throwing (with a message that says why) means NOT_SERVING. */
  probe: (signal: AbortSignal) => Promise<void>;
  /** How often to check (default 5000 ms). */
  intervalMs?: number;
  /** Longest a single check may take (default 3000 ms). */
  timeoutMs?: number;
}

export interface HealthState {
  serving: boolean;
  reason: string;
  since: Date;
  checkedAt?: Date;
}

/**
 * The shard's health: the standard gRPC health service ("" and the shard's own
 * service) driven by a periodic upstream probe.
 */
export class HealthReporter {
  readonly implementation: HealthImplementation;
  private state: HealthState = { serving: false, reason: 'starting', since: new Date() };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly serviceName: string,
    private readonly probe: HealthProbe | undefined,
    private readonly logger: Logger,
  ) {
    this.implementation = new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
  }

  status(): HealthState {
    return { ...this.state };
  }

  private set(serving: boolean, reason: string): void {
    const changed = serving !== this.state.serving;
    this.state = { serving, reason, since: changed ? new Date() : this.state.since, checkedAt: new Date() };
    if (!changed) return;
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.implementation.setStatus('', status);
    this.implementation.setStatus(this.serviceName, status);
    if (serving) this.logger.info('upstream reachable: SERVING');
    else this.logger.warn({ reason }, 'upstream check failed: NOT_SERVING');
  }

  /** Runs the probe now (e.g. after an upstream error); concurrent calls share one run. */
  recheck(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.probe) {
      this.set(true, '');
      return Promise.resolve();
    }
    this.running ??= (async () => {
      const probe = this.probe;
      if (!probe) return;
      try {
        await probe.probe(AbortSignal.timeout(probe.timeoutMs ?? 3000));
        this.set(true, '');
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.set(false, (err as Error)?.name === 'TimeoutError' ? `upstream check timed out: ${message}` : message);
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): Promise<void> {
    const first = this.recheck();
    if (this.probe) {
      this.timer = setInterval(() => void this.recheck(), this.probe.intervalMs ?? 5000);
      this.timer.unref();
    }
    return first;
  }

  /** Marks everything NOT_SERVING (shutdown) and stops probing. */
  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.implementation.setStatus('', 'NOT_SERVING');
    this.implementation.setStatus(this.serviceName, 'NOT_SERVING');
  }
}
