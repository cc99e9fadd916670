import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** Identities live in a URI SAN: spiffe://homelab-mcp/<identity>. */
export const IDENTITY_URI_PREFIX = 'spiffe://homelab-mcp/';

export function identityUri(identity: string): string {
  return `${IDENTITY_URI_PREFIX}${identity}`;
}

/**
 * A component's identity (`shard-dozzle`), or one instance of it
 * (`shard-dozzle/nas`: the Watchman of the node nas), in lowercase letters,
 * digits and dashes.
 */
export const IDENTITY_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}(?:\/[a-z0-9][a-z0-9-]{0,62})?$/;

/** An instance name: the node a shard instance serves, e.g. nas. */
export const INSTANCE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The identity of one instance of a component: `shard-dozzle` for the default instance (''), `shard-dozzle/nas` otherwise. */
export function instanceIdentity(component: string, instance = ''): string {
  return instance ? `${component}/${instance}` : component;
}

/**
 * The instances of one shard kind and their addresses, as SHARD_<NAME>_INSTANCES
 * lists them: `nas=nas.home.lan:50051,pi=10.0.0.7:50051`. Throws with the item
 * that does not fit.
 */
export function parseInstanceAddresses(value: string): [instance: string, address: string][] {
  const out: [string, string][] = [];
  for (const item of value.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(.+)$/.exec(item);
    if (!m) throw new Error(`"${item}" is not instance=host:port`);
    if (!INSTANCE_PATTERN.test(m[1]!)) throw new Error(`instance "${m[1]}" must be lowercase letters, digits and dashes (the node's name)`);
    if (out.some(([i]) => i === m[1])) throw new Error(`names instance "${m[1]}" twice`);
    out.push([m[1]!, m[2]!.trim()]);
  }
  return out;
}

/**
 * The identity as a DNS name and directory name (`shard-dozzle.nas`): the
 * certificate carries it as a DNS SAN, the gateway sends it as SNI, and
 * `certs` keeps the instance's files under it. A slash fits neither.
 */
export function identityHostName(identity: string): string {
  return identity.replace('/', '.');
}

/**
 * The entries of a subjectAltName as Node prints it ("DNS:a, IP Address:b,
 * URI:c"). Node quotes an entry whose value holds a comma or a quote, JSON style.
 */
export function splitSubjectAltName(sans: string | undefined): string[] {
  const out: string[] = [];
  for (const m of (sans ?? '').matchAll(/([^,:]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    out.push(`${m[1]!.trim()}:${value.trim()}`);
  }
  return out;
}

/** The URIs among a subjectAltName's entries. */
export function sanUris(sans: string | undefined): string[] {
  return splitSubjectAltName(sans).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

/** The homelab-mcp identity in a subjectAltName, or undefined. */
export function identityInSan(sans: string | undefined): string | undefined {
  const uri = sanUris(sans).find((u) => u.startsWith(IDENTITY_URI_PREFIX));
  return uri?.slice(IDENTITY_URI_PREFIX.length);
}

/** The identity a TLS peer presented (its certificate's URI SAN), or undefined. */
export function peerIdentity(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  return identityInSan(cert?.subjectaltname);
}

/**
 * Why a TLS peer is not the expected component, or undefined when its
 * certificate names `expected`: a valid certificate of another component from
 * the same CA is refused. The error names what the certificate does carry.
 */
export function checkPeerIdentity(cert: Pick<PeerCertificate, 'subjectaltname'>, expected: string): Error | undefined {
  const uris = sanUris(cert.subjectaltname);
  if (uris.includes(identityUri(expected))) return undefined;
  return new Error(`the server is not ${expected}: its certificate names ${uris.join(', ') || 'no identity'}, expected ${identityUri(expected)}`);
}

export interface CertificateInfo {
  subject: string;
  /** The homelab-mcp identity (from the URI SAN), if the certificate carries one. */
  identity?: string;
  sans: string[];
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Whole days until expiry, negative once expired. */
  daysLeft: number;
  isCa: boolean;
  fingerprintSha256: string;
}

/** Whole days from `now` until `notAfter`, negative once it has passed. */
export function daysUntil(notAfter: Date, now = new Date()): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000);
}

/** The identity a certificate (PEM) carries in its URI SAN, or undefined. */
export function readIdentity(certPem: string | Buffer): string | undefined {
  return identityInSan(new X509Certificate(certPem).subjectAltName);
}

/** What status and doctor show about a certificate. */
export function describeCertificate(certPem: string | Buffer, now = new Date()): CertificateInfo {
  const cert = new X509Certificate(certPem);
  const notAfter = new Date(cert.validTo);
  const identity = identityInSan(cert.subjectAltName);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    ...(identity ? { identity } : {}),
    sans: splitSubjectAltName(cert.subjectAltName),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom),
    notAfter,
    daysLeft: daysUntil(notAfter, now),
    isCa: cert.ca,
    fingerprintSha256: cert.fingerprint256,
  };
}
