import { TraceOutcome } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import type { Check, Finding } from '../types.js';
import { asksForCredentials } from './middleware.js';

const CLASS: Partial<Record<TraceOutcome, Finding['cause']>> = {
  [TraceOutcome.TRACE_OUTCOME_NO_ENTRY_POINT]: 'entry-point',
  [TraceOutcome.TRACE_OUTCOME_NOT_FOUND]: 'rule',
  [TraceOutcome.TRACE_OUTCOME_STOPPED_BY_MIDDLEWARE]: 'middleware',
  [TraceOutcome.TRACE_OUTCOME_REDIRECT_LOOP]: 'middleware',
  [TraceOutcome.TRACE_OUTCOME_NO_SERVER]: 'service',
  [TraceOutcome.TRACE_OUTCOME_REDIRECTED_AWAY]: 'entry-point',
};

/** A request that fails is never "healthy": when no check above named why, the trace's own words stand. */
export const outcomeCheck: Check = {
  id: 'outcome',
  needs: ['trace'],
  fallback: true,
  irrelevant: (f) => (asksForCredentials(f) ? 'the request stops at basic auth asking for credentials, which is it working' : undefined),
  run(f) {
    const cause = f.trace ? CLASS[f.trace.outcome] : undefined;
    if (!cause) return [];
    return [{ severity: 'critical', cause, check: 'outcome', what: f.trace!.summary, evidence: f.trace!.hops.map((h) => h.summary), fix: 'Follow the trace (trace_request, the call below) to the step that fails.', fix_tool: { name: 'trace_request', arguments: { url: f.target.url } } }];
  },
};
