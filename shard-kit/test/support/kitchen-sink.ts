import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { serve, ShardError, toMs, type ShardHandlers } from '../../src/index.js';
import { KitchenSinkServiceService } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';

type Listen = Parameters<typeof serve>[0]['listen'];

/** What the shard saw, for tests that assert shard-side behaviour. */
export interface KitchenSinkObservations {
  countStarted: number;
  countAborted: number;
  countFinished: number;
  /** Abort listeners left on the call's signal when the last count stream ended. */
  countAbortListeners: number;
  applied: string[];
  subjects: string[];
  /** Every metadata key the Change handler received (no client credential may be among them). */
  metadataKeys: string[];
}

export interface KitchenSinkControl {
  observations: KitchenSinkObservations;
  /** Makes the health probe fail (the shard reports NOT_SERVING) or pass again. */
  setUpstreamUp(up: boolean): Promise<void>;
  port: number;
  close(): Promise<void>;
}

const CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/** The kitchen-sink service on shard-kit's serve(): echo, a counter stream, failures on demand, plan -> apply. */
export async function startKitchenSink(options: { name?: string; listen: Listen; logger: Logger }): Promise<KitchenSinkControl> {
  const observations: KitchenSinkObservations = { countStarted: 0, countAborted: 0, countFinished: 0, countAbortListeners: 0, applied: [], subjects: [], metadataKeys: [] };
  const plans = new Map<string, string>();
  let upstreamUp = true;

  const handlers: ShardHandlers<typeof KitchenSinkServiceService> = {
    echo: async (req) => ({ echo: req }),
    count: async function* (req, ctx) {
      observations.countStarted++;
      const ms = req.interval ? toMs(req.interval) : 0;
      try {
        for (let i = 1; i <= req.count; i++) {
          if (ms > 0) await sleep(ms, undefined, { signal: ctx.signal });
          yield { numbers: [i], last: i };
        }
        observations.countFinished++;
        observations.countAbortListeners = getEventListeners(ctx.signal, 'abort').length;
      } catch (err) {
        if (ctx.signal.aborted) observations.countAborted++;
        throw err;
      }
    },
    fail: async (req) => {
      if (req.code === 0) return {};
      const code = CODE_NAMES[req.code] ?? 'UNKNOWN';
      throw new ShardError(code as ConstructorParameters<typeof ShardError>[0], req.message || `failing with ${code}`, {
        hint: 'Send code 0 to succeed.',
        ...(code === 'INVALID_ARGUMENT' ? { fieldViolations: [{ field: 'message', description: 'asked to be invalid' }] } : {}),
      });
    },
    change: async (req, ctx) => {
      observations.subjects.push(String(ctx.metadata.get('x-homelab-mcp-subject')[0] ?? ''));
      observations.metadataKeys.push(...Object.keys(ctx.metadata.getMap()));
      if (!req.planId) {
        const id = randomUUID();
        plans.set(id, req.value);
        return {
          plan: { id, summary: `set value to ${req.value}`, diff: `-\n+${req.value}\n`, changes: [], expiresAt: { seconds: String(Math.floor(Date.now() / 1000) + 600), nanos: 0 }, noOp: false },
          applied: false,
          value: '',
        };
      }
      // The shard trusts its own plan ids only; the gateway adds the binding to caller and arguments.
      if (!plans.has(req.planId)) throw new ShardError('FAILED_PRECONDITION', `unknown plan ${req.planId}`);
      observations.applied.push(req.value);
      return { applied: true, value: req.value };
    },
  };

  const shard = await serve({
    name: options.name ?? 'kitchen',
    serviceName: 'homelab.testing.v1.KitchenSinkService',
    service: KitchenSinkServiceService,
    handlers,
    listen: options.listen,
    health: {
      probe: async () => {
        if (!upstreamUp) throw new Error('the kitchen is closed');
      },
      intervalMs: 60_000,
    },
    logger: options.logger,
  });
  return {
    observations,
    port: shard.port,
    setUpstreamUp: async (up) => {
      upstreamUp = up;
      await shard.health.recheck();
    },
    close: () => shard.close(0),
  };
}
