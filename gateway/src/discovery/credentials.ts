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

/** How often the gateway re-reads its CA, certificate and key (a rotated file is used by the next handshake). */
export const TLS_REFRESH_MS = 5000;

/**
 * mTLS credentials that accept the shard only when its certificate carries
 * `spiffe://homelab-mcp/<identity>`: a valid certificate of another component
 * from the same CA is refused. The CA, certificate and key files are watched,
 * so rotated files are used by new handshakes without a restart. `onPeer`
 * sees every accepted certificate.
 */
export function createShardCredentials(
  tls: TlsFiles,
  identity: string,
  onPeer: (peer: PeerCertificateInfo) => void,
  refreshIntervalMs = TLS_REFRESH_MS,
): grpc.ChannelCredentials {
  const expected = spiffeIdOf(identity);
  // Fail at start, with the file name, rather than on the first handshake.
  for (const file of [tls.caFile, tls.certFile, tls.keyFile]) readFileSync(file);
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    caCertificateFile: tls.caFile,
    certificateFile: tls.certFile,
    privateKeyFile: tls.keyFile,
    refreshIntervalMs,
  });
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
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
