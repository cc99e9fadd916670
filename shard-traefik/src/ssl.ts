import { X509Certificate } from 'node:crypto';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { CertificateReport, GetRoutesRequest, type Certificate, type CheckSslStatusRequest, type CheckSslStatusResponse } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { splitSubjectAltName } from '@homelab-mcp/pki/identity.js';
import { toTimestamp } from '@homelab-mcp/shard-kit';
import { getRoutes, routesOf } from './routes.js';
import type { RawData, TraefikApi } from './upstream/traefik-api.js';

function summarize(c: DetailedPeerCertificate): Certificate {
  const sans = splitSubjectAltName(c.subjectaltname).map((s) => s.replace(/^(DNS|IP Address):/, ''));
  return {
    subjectCn: String(c.subject?.CN ?? ''),
    sans,
    issuerCn: String(c.issuer?.CN ?? ''),
    issuerOrg: String(c.issuer?.O ?? ''),
    notBefore: toTimestamp(new Date(c.valid_from)),
    notAfter: toTimestamp(new Date(c.valid_to)),
    serialNumber: c.serialNumber ?? '',
    fingerprintSha256: (c.fingerprint256 ?? '').replace(/:/g, '').toLowerCase(),
  };
}

function nameMatches(host: string, cert: DetailedPeerCertificate): boolean {
  try {
    return new X509Certificate(cert.raw).checkHost(host) !== undefined;
  } catch {
    return false;
  }
}

function handshake(host: string, address: string, timeoutMs: number): Promise<DetailedPeerCertificate & { protocol?: string }> {
  const idx = address.lastIndexOf(':');
  const connectHost = address.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(idx + 1));
  return new Promise((resolve, reject) => {
    // Verification is the point of the report, not a reason to stop: accept, then judge.
    const socket = connect({ host: connectHost, port, servername: host, rejectUnauthorized: false, timeout: timeoutMs });
    const fail = (err: Error) => { socket.destroy(); reject(err); };
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate(true);
      const protocol = socket.getProtocol() ?? '';
      // Destroyed, not ended: whatever the server sends after the handshake is never read, and an
      // ended socket with unread data stays open (and keeps the process alive) until the peer gives up.
      socket.destroy();
      if (!cert || !cert.raw) reject(new Error('the server sent no certificate'));
      else resolve(Object.assign(cert, { protocol }));
    });
    socket.once('timeout', () => fail(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once('error', fail);
  });
}

/** check_ssl_status: a real handshake per host (in parallel, each with its own timeout). */
export async function checkSslStatus(api: TraefikApi, websecure: string | undefined, req: CheckSslStatusRequest, signal: AbortSignal, raw?: RawData): Promise<CheckSslStatusResponse> {
  const timeoutMs = req.timeoutMs || 5000;
  const all = GetRoutesRequest.fromPartial({});
  const routes = raw ? routesOf(raw, all) : await getRoutes(api, all, signal).catch(() => undefined);
  const reports = await Promise.all(req.hosts.map(async (host) => {
    const address = req.address || websecure || `${host}:443`;
    const expected = routes?.routes.find((r) => r.hosts.some((h) => h.toLowerCase() === host.toLowerCase()) && r.tls);
    const base = { host, address, expectedRouter: expected?.name ?? '', expectedCertResolver: expected?.tls?.certResolver ?? '' };
    try {
      const cert = await handshake(host, address, timeoutMs);
      const chain: Certificate[] = [];
      const seen = new Set<string>([cert.fingerprint256]);
      for (let c = cert.issuerCertificate; c && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
        seen.add(c.fingerprint256);
        chain.push(summarize(c));
      }
      const notAfter = new Date(cert.valid_to);
      const expired = notAfter.getTime() < Date.now() || new Date(cert.valid_from).getTime() > Date.now();
      const traefikDefault = String(cert.subject?.CN ?? '') === 'TRAEFIK DEFAULT CERT';
      const matches = nameMatches(host, cert);
      const selfSigned = JSON.stringify(cert.subject) === JSON.stringify(cert.issuer);
      const problems = [
        traefikDefault ? `Traefik served its self-signed default certificate: no certificate matches ${host}${expected ? ` (router ${expected.name}${expected.tls?.certResolver ? ` should get one from resolver ${expected.tls.certResolver}` : ''})` : ' and no router with TLS serves it'}` : '',
        expired ? `the certificate expired on ${notAfter.toISOString()}` : '',
        !matches && !traefikDefault ? `the certificate is for ${summarize(cert).sans.join(', ') || cert.subject?.CN}, not ${host}` : '',
      ].filter(Boolean);
      return CertificateReport.fromPartial({
        ...base,
        ok: problems.length === 0,
        problem: problems.join('; '),
        certificate: summarize(cert),
        chain,
        nameMatches: matches,
        expired,
        daysLeft: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
        traefikDefault,
        selfSigned,
        protocol: cert.protocol ?? '',
      });
    } catch (err) {
      return CertificateReport.fromPartial({ ...base, ok: false, problem: `TLS handshake with ${address} (SNI ${host}) failed: ${(err as Error).message}` });
    }
  }));
  return { reports };
}
