import { NearMissKind, TraceOutcome } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { routerLabelFix } from '../labels.js';
import { lastHop, type Check, type Finding } from '../types.js';

/** TLS of an HTTPS request: the router has TLS, and the certificate served fits the host and is in date. */
export const tlsCheck: Check = {
  id: 'tls',
  needs: ['trace'],
  irrelevant: (f) => (f.trace?.hops.some((h) => h.entryPoint?.tls) ? undefined : 'the request does not use HTTPS'),
  run(f) {
    const hop = lastHop(f)!;
    const out: Finding[] = [];
    const mismatch = hop.nearMisses.find((m) => m.kind === NearMissKind.NEAR_MISS_KIND_TLS_MISMATCH);
    if (mismatch && f.trace?.outcome === TraceOutcome.TRACE_OUTCOME_NOT_FOUND) {
      out.push({ severity: 'critical', cause: 'tls', check: 'tls', what: `Router ${mismatch.router} has no TLS, so Traefik does not use it for HTTPS connections: ${mismatch.detail}`, evidence: [`${mismatch.router}: ${mismatch.rule}`], fix: routerLabelFix(mismatch.router, mismatch.router.endsWith('@docker') ? 'true' : '{} (an empty tls section)', 'tls') });
    }
    const report = hop.tls?.certificate;
    if (report && !report.ok) {
      const resolver = hop.tls?.certResolver;
      const what = report.traefikDefault
        ? `Traefik serves its default self-signed certificate for ${report.host}: browsers refuse it.${resolver ? ` The router's certResolver "${resolver}" produced no certificate: is a resolver of that name defined in the static configuration (certificatesResolvers.${resolver})?` : ''}`
        : report.expired ? `The certificate Traefik serves for ${report.host} expired.` : `The certificate for ${report.host} does not fit: ${report.problem}`;
      out.push({
        severity: 'critical', cause: 'tls', check: 'tls', what,
        evidence: [report.problem, ...(report.chain[0] ? [`subject ${report.chain[0].subjectCn}, SANs ${report.chain[0].sans.join(', ')}, issuer ${report.chain[0].issuerCn}`] : []), ...(resolver ? [`certResolver ${resolver}`] : [])].filter(Boolean),
        fix: resolver ? `Check certResolver "${resolver}" against certificatesResolvers in Traefik's static configuration and Traefik's log for the ACME error; correct the name on router ${hop.tls?.router}.` : `Give router ${hop.tls?.router || hop.winner} a certResolver or install a valid certificate for ${report.host}.`,
      });
    } else if (report && report.daysLeft < 14) {
      out.push({ severity: 'warning', cause: 'tls', check: 'tls', what: `The certificate for ${report.host} expires in ${report.daysLeft} days.`, evidence: [report.chain[0]?.issuerCn ?? ''], fix: 'Check that the certificate resolver renews it (Traefik renews 30 days ahead by default).' });
    }
    return out;
  },
};
