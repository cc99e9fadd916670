import { TraceOutcome, type TraceService } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { lastHop, type Check, type Finding } from '../types.js';
import { bare } from '../labels.js';

const allDown = (s: TraceService) => s.servers.length > 0 && s.servers.every((x) => x.status === 'DOWN');

/** Members of a weighted, mirroring or failover service with no server up, at any depth. */
function deadMembers(s: TraceService): TraceService[] {
  return s.children.flatMap((c) => [...(allDown(c) ? [c] : []), ...deadMembers(c)]);
}

/** The service: no server up (503), a disabled service, or a weighted member with no server up that still gets its share. */
export const serviceCheck: Check = {
  id: 'service',
  needs: ['trace'],
  irrelevant: (f) => (lastHop(f)?.service ? undefined : 'no router takes the request, so no service is reached'),
  run(f) {
    const svc = lastHop(f)!.service!;
    const out: Finding[] = [];
    if (f.trace?.outcome === TraceOutcome.TRACE_OUTCOME_NO_SERVER || allDown(svc) || svc.errors.length) {
      out.push({
        severity: 'critical', cause: 'service', check: 'service',
        what: `Service ${svc.name} has no server up: Traefik answers ${f.trace?.httpStatus || 503}.`,
        evidence: [...svc.servers.map((s) => `${s.url} ${s.status}`), ...svc.errors],
        fix: `Start the backend or correct the server URL of ${svc.name}; its health check (${svc.healthCheck ? 'configured' : 'none'}) decides UP and DOWN.`,
      });
    }
    for (const dead of deadMembers(svc)) {
      out.push({
        severity: 'critical', cause: 'service', check: 'service',
        what: `${dead.name} (${dead.role || 'member'} of ${svc.name}) has no server up, yet still gets its share of requests: those fail.`,
        evidence: dead.servers.map((s) => `${s.url} ${s.status}`),
        fix: `Start ${dead.name}'s backend, or set its weight to 0 in http.services.${bare(svc.name)}.weighted.services until it is back (or give the weighted service a healthCheck so Traefik skips it).`,
      });
    }
    return out;
  },
};
