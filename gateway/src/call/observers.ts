import type { Logger } from 'pino';
import type { ToolTable } from '../discovery/tool-table.js';
import type { GatewayMetrics } from '../mcp/metrics.js';
import type { AuditLog } from '../trust/audit.js';
import { answeredPlan } from './plans.js';
import type { CallObserver, CallOutcome } from './tool-call.js';

const METRIC_OUTCOME: Record<CallOutcome['kind'], string> = { ok: 'ok', invalid: 'invalid', refused: 'refused', unavailable: 'error', failed: 'error', unknown: 'error' };
const AUDIT_RESULT: Record<Exclude<CallOutcome['kind'], 'ok'>, string> = { invalid: 'refused', refused: 'refused', unavailable: 'refused', failed: 'error', unknown: 'unknown' };

/** Calls by outcome, failures by code, and the latency of every attempt that reached its shard. */
export function metricsObserver(metrics: GatewayMetrics): CallObserver {
  return {
    onOutcome(call, outcome) {
      metrics.calls.inc({ ...call.labels, outcome: METRIC_OUTCOME[outcome.kind] });
      if (outcome.code && outcome.kind !== 'ok') metrics.errors.inc({ ...call.labels, code: outcome.code });
      if (call.sentAt !== undefined) metrics.latency.observe(call.labels, (Date.now() - call.sentAt) / 1000);
    },
  };
}

/**
 * Every call of a tool that can change something leaves a line, whatever
 * became of it: refused ones with the reason, answered ones with what they
 * did, cut-off ones as unknown. The arguments are the decoded request.
 */
export function auditObserver(audit: AuditLog): CallObserver {
  return {
    onOutcome(call, outcome) {
      if (call.readOnly) return;
      // A dry run's line names the plan it got, so the plan's whole story is found by its id.
      const planned = outcome.effect === 'planned' && call.spec && call.response ? answeredPlan(call.spec, call.response.message)?.id : undefined;
      const planId = call.plan?.id || planned;
      // A plan applied after a person's yes names them: the console's approver, or the client's user (elicitation).
      const approver = call.ctx.approval?.by ?? (call.plan?.confirmed ? call.ctx.subject : undefined);
      audit.write(
        {
          subject: call.ctx.subject,
          tool: call.name,
          arguments: call.auditArguments(),
          ...(planId ? { planId } : {}),
          result: outcome.kind === 'ok' ? (outcome.effect ?? 'ok') : AUDIT_RESULT[outcome.kind],
          ...(outcome.kind !== 'ok' && outcome.reason ? { error: outcome.reason } : {}),
          ...(approver ? { approver, via: call.ctx.approval?.via ?? 'elicitation' } : {}),
          durationMs: call.sentAt === undefined ? 0 : Date.now() - call.sentAt,
        },
        call.spec?.secretFields,
      );
    },
  };
}

/** Failed calls in the gateway's log, with the shard's reason. */
export function logObserver(logger: Logger): CallObserver {
  return {
    onOutcome(call, outcome) {
      if (outcome.kind !== 'failed' && outcome.kind !== 'unknown') return;
      logger.info({ ...call.labels, code: outcome.code, reason: outcome.detail }, 'tool call failed');
    },
  };
}

/**
 * Audits a call of a tool that can change something which was refused before
 * it reached the call pipeline (limits, a refused batch, a foreign session):
 * every attempted write leaves a line, with the reason.
 */
export function auditRefusedCall(deps: { table: ToolTable; audit?: AuditLog | undefined }, subject: string, tool: unknown, args: unknown, reason: string): void {
  if (!deps.audit || typeof tool !== 'string') return;
  const entry = deps.table.find(tool);
  if (!entry || entry.spec.annotations.readOnlyHint === true) return;
  deps.audit.write({ subject, tool, arguments: args ?? {}, result: 'refused', error: reason, durationMs: 0 }, entry.spec.secretFields);
}
