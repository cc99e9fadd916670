import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { checkPeerIdentity } from './identity.js';

/** A component's CA, certificate and key files. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** How often the certificate files are read again: a rotated file is used by the next handshake, without a restart. */
export const TLS_REFRESH_MS = 5000;

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * Watches a component's certificate files (grpc-js's file watcher) and can be
 * closed. grpc-js adds a listener per connection attempt and removes it only
 * when the attempt's subchannel is destroyed; one that failed its handshake
 * (an impostor refused by the identity check) may never be, and the watcher's
 * interval timer then keeps the process alive after everything was closed.
 * close() removes every listener, which stops the timer.
 */
export class WatchedCertificateFiles implements grpc.experimental.CertificateProvider {
  private readonly files: grpc.experimental.FileWatcherCertificateProvider;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private closed = false;

  constructor(readonly paths: TlsFiles, refreshIntervalMs = TLS_REFRESH_MS) {
    this.files = new grpc.experimental.FileWatcherCertificateProvider({
      caCertificateFile: paths.caFile,
      certificateFile: paths.certFile,
      privateKeyFile: paths.keyFile,
      refreshIntervalMs,
    });
  }

  addCaCertificateListener(listener: CaListener): void {
    if (this.closed) return;
    this.caListeners.add(listener);
    this.files.addCaCertificateListener(listener);
  }

  removeCaCertificateListener(listener: CaListener): void {
    if (this.caListeners.delete(listener)) this.files.removeCaCertificateListener(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    if (this.closed) return;
    this.identityListeners.add(listener);
    this.files.addIdentityCertificateListener(listener);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    if (this.identityListeners.delete(listener)) this.files.removeIdentityCertificateListener(listener);
  }

  /** Stops watching the files; credentials made from this provider connect no more. */
  close(): void {
    this.closed = true;
    for (const l of this.caListeners) this.removeCaCertificateListener(l);
    for (const l of this.identityListeners) this.removeIdentityCertificateListener(l);
  }
}

/**
 * mTLS server credentials whose files are watched. The caller's identity is
 * checked per call by the server (shard-kit's interceptor), not here.
 */
export async function createMtlsServerCredentials(provider: WatchedCertificateFiles): Promise<grpc.ServerCredentials> {
  const files = provider.paths;
  // The provider reads the files asynchronously and drops connections until it has;
  // wait for the first read so the server is usable the moment it says it listens.
  await new Promise<void>((resolve, reject) => {
    let ca = false;
    let identity = false;
    const stopListening = () => {
      clearTimeout(timer);
      provider.removeCaCertificateListener(onCa);
      provider.removeIdentityCertificateListener(onIdentity);
    };
    const timer = setTimeout(() => {
      stopListening();
      reject(new Error(`cannot read the TLS files ${files.caFile}, ${files.certFile}, ${files.keyFile}`));
    }, 10_000);
    const check = () => {
      if (!ca || !identity) return;
      stopListening();
      resolve();
    };
    const onCa = (u: unknown) => { ca = u !== null; check(); };
    const onIdentity = (u: unknown) => { identity = u !== null; check(); };
    provider.addCaCertificateListener(onCa);
    provider.addIdentityCertificateListener(onIdentity);
  });
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/** What a client learns about a server it accepted. */
export interface AcceptedPeer {
  identity: string;
  validTo: Date;
}

/**
 * mTLS channel credentials that accept the server only when its certificate
 * carries `spiffe://homelab-mcp/<identity>`: a valid certificate of another
 * component from the same CA is refused. `provider` watches the files (see
 * TLS_REFRESH_MS); close it with the channel. `onPeer` sees every accepted
 * certificate.
 */
export function createWatchedChannelCredentials(
  provider: WatchedCertificateFiles,
  identity: string,
  onPeer: (peer: AcceptedPeer) => void = () => undefined,
): grpc.ChannelCredentials {
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: (_hostname: string, cert: PeerCertificate) => {
      const wrong = checkPeerIdentity(cert, identity);
      if (!wrong) onPeer({ identity, validTo: new Date(cert.valid_to) });
      return wrong;
    },
  });
}

/** Reads the files once, to fail at start with the file's name rather than on the first handshake. */
export function checkReadable(files: TlsFiles): void {
  for (const file of [files.caFile, files.certFile, files.keyFile]) readFileSync(file);
}

/**
 * mTLS channel credentials read once, for a short-lived client (the container
 * healthcheck, doctor): the server must carry `identity`, not just a name.
 */
export function createChannelCredentials(tls: { ca: Buffer; cert: Buffer; key: Buffer }, identity: string): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert, {
    checkServerIdentity: (_host, cert) => checkPeerIdentity(cert, identity),
  });
}

/** The same, from files. */
export function readChannelCredentials(files: TlsFiles, identity: string): grpc.ChannelCredentials {
  return createChannelCredentials({ ca: readFileSync(files.caFile), cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }, identity);
}
