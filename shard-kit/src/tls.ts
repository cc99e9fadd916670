import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

export interface ShardTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Identities allowed to call, e.g. ["gateway"]. */
  allowedPeers: string[];
}

const IDENTITY_PREFIX = 'spiffe://homelab-mcp/';

/** The homelab-mcp identity in a peer certificate's URI SAN. */
export function peerIdentity(cert: PeerCertificate | undefined): string | undefined {
  for (const san of (cert?.subjectaltname ?? '').split(', ')) {
    if (san.startsWith(`URI:${IDENTITY_PREFIX}`)) return san.slice(4 + IDENTITY_PREFIX.length);
  }
  return undefined;
}

/**
 * mTLS server credentials whose files are watched: a rotated certificate or CA
 * is used by new handshakes without a restart.
 */
export async function createMtlsServerCredentials(files: ShardTlsFiles, refreshIntervalMs = 5000): Promise<grpc.ServerCredentials> {
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    caCertificateFile: files.caFile,
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    refreshIntervalMs,
  });
  // The provider reads the files asynchronously and drops connections until it has;
  // wait for the first read so the shard is usable the moment it says it listens.
  await new Promise<void>((resolve, reject) => {
    let ca = false;
    let identity = false;
    const timer = setTimeout(() => reject(new Error(`cannot read the TLS files ${files.caFile}, ${files.certFile}, ${files.keyFile}`)), 10_000);
    const check = () => {
      if (!ca || !identity) return;
      clearTimeout(timer);
      provider.removeCaCertificateListener(onCa);
      provider.removeIdentityCertificateListener(onIdentity);
      resolve();
    };
    const onCa = (u: unknown) => { ca = u !== null; check(); };
    const onIdentity = (u: unknown) => { identity = u !== null; check(); };
    provider.addCaCertificateListener(onCa);
    provider.addIdentityCertificateListener(onIdentity);
  });
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/**
 * A server interceptor that refuses, before any handler runs, every call whose
 * client certificate does not carry an allowed identity: the CA alone is not
 * enough. Applies to all services, health and reflection included.
 */
export function createIdentityInterceptor(allowed: Set<string>): grpc.ServerInterceptor {
  return (_method, call) => {
    const identity = peerIdentity(call.getAuthContext().sslPeerCertificate);
    if (identity && allowed.has(identity)) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({});
        call.sendStatus({
          code: grpc.status.PERMISSION_DENIED,
          details: identity
            ? `identity "${identity}" may not call this shard (allowed: ${[...allowed].join(', ')})`
            : 'a client certificate with a homelab-mcp identity is required',
          metadata: new grpc.Metadata(),
        });
      },
    });
  };
}
