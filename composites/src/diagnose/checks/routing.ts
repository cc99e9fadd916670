import { NearMissKind, TraceOutcome, type NearMiss } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { lastHop, type Check, type Facts, type Finding } from '../types.js';
import { bare, routerLabelFix } from '../labels.js';

const misses = (f: Facts, kind: NearMissKind): NearMiss[] => lastHop(f)?.nearMisses.filter((m) => m.kind === kind) ?? [];
const notFound = (f: Facts) => f.trace?.outcome === TraceOutcome.TRACE_OUTCOME_NOT_FOUND;

/** The entry point that takes the request, and redirections to another one. */
export const entryPointCheck: Check = {
  id: 'entry-point',
  needs: ['trace'],
  run(f) {
    if (f.trace?.outcome === TraceOutcome.TRACE_OUTCOME_NO_ENTRY_POINT) {
      return [{ severity: 'critical', cause: 'entry-point', check: 'entry-point', what: f.trace.summary, evidence: [f.target.url ?? ''], fix: 'Use a port an entry point listens on, or add an entry point for it in the static configuration (entryPoints.<name>.address).' }];
    }
    if (!notFound(f)) return [];
    return misses(f, NearMissKind.NEAR_MISS_KIND_OTHER_ENTRY_POINT).slice(0, 1).map((m): Finding => ({
      severity: 'critical',
      cause: 'entry-point',
      check: 'entry-point',
      what: `Router ${m.router} matches ${f.target.host} but not on the entry point the request reaches (${lastHop(f)?.entryPoint?.name ?? '?'}): ${m.detail}`,
      evidence: f.trace!.hops.map((h) => `${h.entryPoint?.name ?? '?'}: ${h.summary}`),
      fix: routerLabelFix(m.router, lastHop(f)?.entryPoint?.name ?? 'websecure', m.router.endsWith('@docker') ? 'entrypoints' : 'entryPoints'),
    }));
  },
};

const explicitPriority = (rule: string, priority: string) => priority !== String(rule.length);

/** The rule: a host a few edits off, a path the rule does not cover, or a higher-priority router taking the request. */
export const ruleCheck: Check = {
  id: 'rule',
  needs: ['trace'],
  run(f) {
    const out: Finding[] = [...f.target.findings];
    const hop = lastHop(f);
    if (notFound(f)) {
      for (const m of [...misses(f, NearMissKind.NEAR_MISS_KIND_SIMILAR_HOST), ...misses(f, NearMissKind.NEAR_MISS_KIND_RULE_PART)].slice(0, 1)) {
        const typo = m.kind === NearMissKind.NEAR_MISS_KIND_SIMILAR_HOST;
        const path = new URL(f.target.url ?? 'https://x/').pathname;
        out.push({
          severity: 'critical', cause: 'rule', check: 'rule',
          what: typo ? `No router matches ${f.target.host}; router ${m.router} has a host a few edits away: ${m.detail}` : `Router ${m.router} serves ${f.target.host} but its rule does not cover ${path}: ${m.detail}`,
          evidence: [`${m.router}: ${m.rule}`],
          fix: routerLabelFix(m.router, typo ? m.rule.replace(/Host\(`[^`]*`\)/, `Host(\`${f.target.host}\`)`) : `Host(\`${f.target.host}\`)`),
        });
      }
    }
    for (const m of misses(f, NearMissKind.NEAR_MISS_KIND_LOWER_PRIORITY)) {
      const winner = hop?.routers.find((r) => r.name === hop.winner);
      if (!winner || !explicitPriority(winner.rule, winner.priority) || m.rule.length <= winner.rule.length) continue;
      out.push({
        severity: 'critical', cause: 'priority', check: 'rule',
        what: `Router ${winner.name} takes ${f.target.url} with its explicit priority ${winner.priority}, ahead of the more specific ${m.router}: ${m.detail}`,
        evidence: [`${winner.name} priority ${winner.priority}: ${winner.rule}`, `${m.router}: ${m.rule}`],
        fix: routerLabelFix(winner.name, '0 (remove it, so the rule length decides)', 'priority'),
      });
    }
    return out;
  },
};

function disabledClass(error: string): Finding['cause'] {
  if (/middleware/i.test(error)) return 'middleware';
  if (/service/i.test(error)) return 'service';
  if (/entry ?point/i.test(error)) return 'entry-point';
  return 'rule';
}

/** The fix for a disabled router: the qualified name where the reference lacked its provider, else what the error names. */
function disabledFix(router: string, detail: string): string {
  const elsewhere = /([^\s(]+@[^\s)]+) exists: name it/.exec(detail)?.[1];
  const missing = /"([^"]+)" does not exist/.exec(detail)?.[1];
  if (elsewhere && missing) {
    const kind = /middleware "/.test(detail) ? 'middlewares' : 'service';
    return router.endsWith('@docker')
      ? `Name it with its provider: in the label traefik.http.routers.${bare(router)}.${kind}, replace ${bare(missing)} with ${elsewhere}, then recreate the container (docker compose up -d).`
      : `Name it with its provider: in ${router}'s ${kind}, replace ${bare(missing)} with ${elsewhere}.`;
  }
  if (missing) return `Define what it names, or correct the name in ${router}'s configuration (${missing}).`;
  return `Correct ${router}'s configuration as the error says.`;
}

/** A router Traefik disabled (missing service or middleware, a bad rule) serves nothing. */
export const routerStatusCheck: Check = {
  id: 'router-status',
  needs: ['trace'],
  run: (f) => (notFound(f) ? misses(f, NearMissKind.NEAR_MISS_KIND_DISABLED) : []).slice(0, 1).map((m) => ({
    severity: 'critical', cause: disabledClass(m.detail), check: 'router-status',
    what: `Traefik disabled router ${m.router}: ${m.detail}`,
    evidence: [`${m.router}: ${m.rule}`, m.detail],
    fix: disabledFix(m.router, m.detail),
  })),
};

/** Nothing serves the host at all: only when no nearer cause explains the 404. */
export const noRouterCheck: Check = {
  id: 'no-router',
  needs: ['trace'],
  fallback: true,
  run(f) {
    if (!notFound(f) || (lastHop(f)?.nearMisses.length ?? 0) > 0) return [];
    const running = f.related.find((c) => c.state === 'running');
    return [{
      severity: 'critical', cause: 'rule', check: 'no-router',
      what: `No Traefik router serves ${f.target.host}: requests get Traefik's 404.`,
      evidence: [f.trace!.summary],
      fix: running ? `Route ${f.target.host} to container ${running.name} (the tool call below, after checking its port).` : `No running container is known for ${f.target.host}: start the app first, then give it a router.`,
      ...(running ? { fix_tool: { name: 'add_dynamic_config', arguments: { name: running.name, hosts: [f.target.host], tls: {}, service: { urls: [`http://${running.name}:${running.exposedPorts[0] ?? 80}`] } } } } : {}),
    }];
  },
};
