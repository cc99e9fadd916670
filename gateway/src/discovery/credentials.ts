import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

/** The URI SAN that names a component of this project. */
export function spiffeIdOf(identity: string): string {
  return `spiffe://homelab-mcp/${identity}`;
}

export interface PeerCertificateInfo {
  identity: string;
  validTo: Date;
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * mTLS credentials that accept the shard only when its certificate carries
 * `spiffe://homelab-mcp/<identity>`: a valid certificate of another component
 * from the same CA is refused. `onPeer` sees every accepted certificate.
 */
export function createShardCredentials(
  tls: TlsFiles,
  identity: string,
  onPeer: (peer: PeerCertificateInfo) => void,
): grpc.ChannelCredentials {
  const expected = spiffeIdOf(identity);
  return grpc.credentials.createSsl(readFileSync(tls.caFile), readFileSync(tls.keyFile), readFileSync(tls.certFile), {
    checkServerIdentity: (_hostname: string, cert: PeerCertificate) => {
      const uris = (cert.subjectaltname ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.startsWith('URI:'))
        .map((s) => s.slice(4));
      if (!uris.includes(expected)) {
        return new Error(`shard certificate names ${uris.join(', ') || 'no URI SAN'}, expected ${expected}`);
      }
      onPeer({ identity, validTo: new Date(cert.valid_to) });
      return undefined;
    },
  });
}
