import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthService, type HealthServer } from '@homelab-mcp/proto/ts/grpc/health/v1/health.js';

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
 * grpc.health.v1.Health over one status per service name, as the protocol
 * describes it: Check fails with NOT_FOUND for a service it does not know;
 * Watch answers at once (SERVICE_UNKNOWN for such a service), then sends
 * every change until the client goes away.
 */
class ServingStatuses {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const send of this.watchers.get(service) ?? []) send(status);
  }

  server(): HealthServer {
    return {
      check: (call, callback) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
        else callback(null, { status });
      },
      watch: (call) => {
        const service = call.request.service;
        const send = (status: ServingStatus) => call.write({ status });
        let watchers = this.watchers.get(service);
        if (!watchers) this.watchers.set(service, (watchers = new Set()));
        watchers.add(send);
        call.on('cancelled', () => watchers.delete(send));
        send(this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
      },
      list: (_call, callback) => {
        callback(null, { statuses: Object.fromEntries([...this.statuses].map(([service, status]) => [service, { status }])) });
      },
    };
  }
}

/**
 * The shard's health: the standard gRPC health service ("" and the shard's own
 * service) driven by a periodic upstream probe.
 */
export class HealthReporter {
  private readonly statuses = new ServingStatuses();
  private state: HealthState = { serving: false, reason: 'starting', since: new Date() };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly serviceName: string,
    private readonly probe: HealthProbe | undefined,
    private readonly logger: Logger,
  ) {
    this.setAll(ServingStatus.NOT_SERVING);
  }

  addToServer(server: grpc.Server): void {
    server.addService(HealthService, this.statuses.server());
  }

  private setAll(status: ServingStatus): void {
    this.statuses.set('', status);
    this.statuses.set(this.serviceName, status);
  }

  status(): HealthState {
    return { ...this.state };
  }

  private set(serving: boolean, reason: string): void {
    const changed = serving !== this.state.serving;
    this.state = { serving, reason, since: changed ? new Date() : this.state.since, checkedAt: new Date() };
    if (!changed) return;
    this.setAll(serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
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
    this.setAll(ServingStatus.NOT_SERVING);
  }
}
