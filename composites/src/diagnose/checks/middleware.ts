import { TraceOutcome, type TraceMiddleware } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { lastHop, type Check, type Facts, type Finding } from '../types.js';

/** The winner's middlewares in order, chains opened. */
export function middlewareChain(f: Facts): TraceMiddleware[] {
  const open = (m: TraceMiddleware): TraceMiddleware[] => [m, ...m.chain.flatMap(open)];
  return (lastHop(f)?.middlewares ?? []).flatMap(open);
}

/** A middleware that answers instead of the service: an allow list, basic auth, a redirect loop, or one in error. */
export const middlewareCheck: Check = {
  id: 'middleware',
  needs: ['trace'],
  run(f) {
    const outcome = f.trace?.outcome;
    const chain = middlewareChain(f).filter((m) => m.type !== 'forwardauth');
    const broken = chain.filter((m) => m.errors.length);
    const out: Finding[] = broken.map((m) => ({ severity: 'critical', cause: 'middleware', check: 'middleware', what: `Middleware ${m.name} is in error: ${m.errors.join('; ')}`, evidence: m.errors, fix: `Correct ${m.name}'s configuration as the error says.` }));
    if (outcome === TraceOutcome.TRACE_OUTCOME_REDIRECT_LOOP || (outcome === TraceOutcome.TRACE_OUTCOME_STOPPED_BY_MIDDLEWARE && !middlewareChain(f).some((m) => m.type === 'forwardauth' && m.effect.includes('stops')))) {
      const culprit = chain.find((m) => /stop|refuse|redirect|401|403/i.test(m.effect)) ?? chain[0];
      out.push({
        severity: 'critical', cause: 'middleware', check: 'middleware',
        what: `${f.trace!.summary}`,
        evidence: [...f.trace!.hops.map((h) => h.summary), ...(culprit ? [`${culprit.name} (${culprit.type}): ${culprit.effect}`] : [])],
        fix: culprit ? `Change ${culprit.name} (${culprit.source || 'its definition'}): ${culprit.type === 'ipallowlist' ? 'add the client\'s range to sourceRange' : culprit.type === 'redirectregex' ? 'anchor its regex so it does not match its own replacement' : 'make it let this request through'}.` : 'Correct the middleware that answers.',
      });
    }
    return out.slice(0, 2);
  },
};
