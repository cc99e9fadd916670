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

/** The gRPC health service: the one thing a shard's own identity may call (its container healthcheck). */
export const HEALTH_SERVICE_PREFIX = '/grpc.health.v1.Health/';

/**
 * Who may call what on a shard. `peers` (the gateway) may call everything; the
 * shard's own identity, which its container healthcheck presents, may only ask
 * the health service: with it, its own service and reflection would be open to
 * anyone holding the shard's key, past the gateway's plan binding and audit.
 */
export interface CallerPolicy {
  peers: ReadonlySet<string>;
  healthOnly: ReadonlySet<string>;
}

/**
 * A server interceptor that refuses, before any handler runs, every call whose
 * client certificate does not carry an identity allowed for that method: the
 * CA alone is not enough. Applies to all services, health and reflection included.
 */
export function createIdentityInterceptor(policy: CallerPolicy): grpc.ServerInterceptor {
  return (method, call) => {
    const identity = peerIdentity(call.getAuthContext().sslPeerCertificate);
    if (identity && (policy.peers.has(identity) || (policy.healthOnly.has(identity) && method.path.startsWith(HEALTH_SERVICE_PREFIX)))) {
      return new grpc.ServerInterceptingCall(call);
    }
    let details = 'a client certificate with a homelab-mcp identity is required';
    if (identity && policy.healthOnly.has(identity)) {
      details = `identity "${identity}" may only call the health service (${HEALTH_SERVICE_PREFIX}Check), not ${method.path}; call through the gateway, or use the gateway's certificate to debug (allowed: ${[...policy.peers].join(', ')})`;
    } else if (identity) {
      details = `identity "${identity}" may not call this shard (allowed: ${[...policy.peers].join(', ')})`;
    }
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({});
        call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details, metadata: new grpc.Metadata() });
      },
    });
  };
}
