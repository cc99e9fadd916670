import { X509Certificate } from 'node:crypto';

/** Identities live in a URI SAN: spiffe://homelab-mcp/<identity>. */
export const IDENTITY_URI_PREFIX = 'spiffe://homelab-mcp/';

export function identityUri(identity: string): string {
  return `${IDENTITY_URI_PREFIX}${identity}`;
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

function splitSans(sans: string | undefined): string[] {
  return (sans ?? '').split(', ').map((s) => s.trim()).filter(Boolean);
}

/** The identity a certificate (PEM) carries in its URI SAN, or undefined. */
export function readIdentity(certPem: string | Buffer): string | undefined {
  const cert = new X509Certificate(certPem);
  for (const san of splitSans(cert.subjectAltName)) {
    if (san.startsWith(`URI:${IDENTITY_URI_PREFIX}`)) return san.slice(4 + IDENTITY_URI_PREFIX.length);
  }
  return undefined;
}

/** What status and doctor show about a certificate. */
export function describeCertificate(certPem: string | Buffer, now = new Date()): CertificateInfo {
  const cert = new X509Certificate(certPem);
  const notAfter = new Date(cert.validTo);
  const identity = readIdentity(certPem);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    ...(identity ? { identity } : {}),
    sans: splitSans(cert.subjectAltName),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
    isCa: cert.ca,
    fingerprintSha256: cert.fingerprint256,
  };
}
