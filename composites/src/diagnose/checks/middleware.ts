import { TraceOutcome, type TraceMiddleware } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { usersWithoutHash } from '@homelab-mcp/upstream-types/traefik.js';
import { lastHop, type Check, type Facts, type Finding } from '../types.js';

/** The winner's middlewares in order, chains opened. */
export function middlewareChain(f: Facts): TraceMiddleware[] {
  const open = (m: TraceMiddleware): TraceMiddleware[] => [m, ...m.chain.flatMap(open)];
  return (lastHop(f)?.middlewares ?? []).flatMap(open);
}

/** A middleware's settings: its configuration as Traefik shows it has the kind as its only key ({ basicAuth: { users } }). */
export const settingsOf = (m: TraceMiddleware): Record<string, unknown> => (Object.values(m.config ?? {})[0] ?? {}) as Record<string, unknown>;

/** basicAuth users whose secret is no htpasswd hash: nobody signs in as them, whatever the password. */
function unusableUsers(m: TraceMiddleware): Finding[] {
  if (m.type !== 'basicauth') return [];
  const users = ([] as unknown[]).concat(settingsOf(m).users ?? []).flatMap((u) => String(u).split(',')).map((u) => u.trim()).filter(Boolean);
  const unusable = usersWithoutHash(users);
  if (!unusable.length) return [];
  const label = m.name.endsWith('@docker');
  return [{
    severity: 'critical', cause: 'middleware', check: 'middleware',
    what: `Middleware ${m.name} has no valid htpasswd hash for ${unusable.join(', ')}: every sign-in as ${unusable.length > 1 ? 'them' : 'that user'} answers 401. A hash that lost its $-parts (docker compose reads $apr1, $2y... as variables) looks like this.`,
    // The user names only: a secret that is no hash is often a plaintext password, and this goes to the model.
    evidence: users.filter((u) => unusable.includes(u.split(':')[0] ?? u)).map((u) => `users: ${u.split(':')[0]} (its secret is no htpasswd hash)`),
    fix: label
      ? `Put the hash back with every $ doubled ($$) in the compose file, e.g. htpasswd -nbB ${unusable[0]} <password> | sed -e 's/\\$/\\$\\$/g', as the label traefik.http.middlewares.${m.name.split('@')[0]}.basicauth.users, then recreate the container.`
      : `Put an htpasswd hash (htpasswd -nbB ${unusable[0]} <password>) in ${m.name}'s users.`,
  }];
}

/**
 * The request stops at basic or digest auth because it carries no
 * credentials: that is the middleware working (unusable users aside, which the
 * middleware check reports).
 */
export function asksForCredentials(f: Facts): boolean {
  if (f.trace?.outcome !== TraceOutcome.TRACE_OUTCOME_STOPPED_BY_MIDDLEWARE) return false;
  const stop = middlewareChain(f).find((m) => /\b401\b/.test(m.effect) && ['basicauth', 'digestauth'].includes(m.type));
  return Boolean(stop) && !unusableUsers(stop!).length;
}

/** A middleware that answers instead of the service: an allow list, basic auth, a redirect loop, or one in error. */
export const middlewareCheck: Check = {
  id: 'middleware',
  needs: ['trace'],
  run(f) {
    const outcome = f.trace?.outcome;
    const chain = middlewareChain(f).filter((m) => m.type !== 'forwardauth');
    const broken = chain.filter((m) => m.errors.length);
    const out: Finding[] = [...chain.flatMap(unusableUsers), ...broken.map((m): Finding => ({ severity: 'critical', cause: 'middleware', check: 'middleware', what: `Middleware ${m.name} is in error: ${m.errors.join('; ')}`, evidence: m.errors, fix: `Correct ${m.name}'s configuration as the error says.` }))];
    if (outcome === TraceOutcome.TRACE_OUTCOME_REDIRECT_LOOP || (outcome === TraceOutcome.TRACE_OUTCOME_STOPPED_BY_MIDDLEWARE && !middlewareChain(f).some((m) => m.type === 'forwardauth' && m.effect.includes('stops')))) {
      const culprit = chain.find((m) => /stop|refuse|redirect|401|403/i.test(m.effect)) ?? chain[0];
      if (culprit && asksForCredentials(f)) {
        if (!out.length) out.push({ severity: 'info', cause: 'middleware', check: 'middleware', what: `${culprit.name} asks for credentials (401 without them): sign in with one of its users.`, evidence: [culprit.effect], fix: 'Nothing to change unless the right credentials are refused.' });
        return out;
      }
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
