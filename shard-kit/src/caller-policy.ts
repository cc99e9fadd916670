import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { TlsFiles } from '@homelab-mcp/pki/credentials.js';
import { peerIdentity } from '@homelab-mcp/pki/identity.js';

export interface ShardTlsFiles extends TlsFiles {
  /** Identities allowed to call, e.g. ["gateway"]. */
  allowedPeers: string[];
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
 * The identity in a peer certificate, by the certificate object: serve()
 * pins each connection's certificate, so its SAN is parsed once per connection.
 */
const identities = new WeakMap<object, string | undefined>();

function identityOf(cert: PeerCertificate | undefined): string | undefined {
  if (!cert) return undefined;
  if (identities.has(cert)) return identities.get(cert);
  const identity = peerIdentity(cert);
  identities.set(cert, identity);
  return identity;
}

/** The identity in the caller's client certificate, or undefined (plaintext, or a certificate without one). */
export function callerIdentity(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } }): string | undefined {
  return identityOf(call.getAuthContext().sslPeerCertificate);
}

/**
 * A server interceptor that refuses, before any handler runs, every call whose
 * client certificate does not carry an identity allowed for that method: the
 * CA alone is not enough. Applies to all services, health and reflection included.
 */
export function createIdentityInterceptor(policy: CallerPolicy): grpc.ServerInterceptor {
  return (method, call) => {
    const identity = callerIdentity(call);
    if (identity && (policy.peers.has(identity) || (policy.healthOnly.has(identity) && method.path.startsWith(HEALTH_SERVICE_PREFIX)))) {
      // An allowed call goes on as it is: a wrapping intercepting call would relay each of its events for nothing.
      return call as grpc.ServerInterceptingCall;
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
