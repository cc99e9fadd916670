import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
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

/** The files as the provider last read them; null where a read failed. */
interface LatestFiles {
  ca?: grpc.experimental.CaCertificateUpdate | null;
  identity?: grpc.experimental.IdentityCertificateUpdate | null;
}

/**
 * A TLS server for gRPC (ALPN h2) that demands a client certificate signed by
 * the CA and refuses the handshake without one, on the watched files: a
 * rotated file is used from the next handshake on, and while a file cannot be
 * read or the files do not fit together, connections are dropped (as grpc-js's
 * own certificate-provider credentials do). Resolves once the files were read,
 * so the server is usable the moment it listens. The caller's identity is
 * checked by the gRPC server it hands the connections to (shard-kit's
 * interceptor), not here.
 */
export async function createMtlsServer(provider: WatchedCertificateFiles, onError: (err: Error) => void = () => undefined): Promise<tls.Server> {
  const latest: LatestFiles = {};
  const files = `${provider.paths.caFile}, ${provider.paths.certFile}, ${provider.paths.keyFile}`;
  let server: tls.Server | undefined;
  let applied: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;
  let problem: string | undefined = 'they were not read yet';
  let firstRead: () => void = () => undefined;
  const read = new Promise<void>((resolve) => (firstRead = resolve));
  // The provider reports the identity and then the CA on every read (every TLS_REFRESH_MS): a new context only when a file changed.
  const apply = () => {
    const { ca, identity } = latest;
    if (ca === undefined || identity === undefined) return;
    firstRead();
    if (!server) return;
    if (!ca || !identity) {
      problem = 'a file cannot be read';
      return;
    }
    const next = { ca: ca.caCertificate, cert: identity.certificate, key: identity.privateKey };
    if (!problem && applied && applied.ca.equals(next.ca) && applied.cert.equals(next.cert) && applied.key.equals(next.key)) return;
    const before = problem;
    try {
      server.setSecureContext(next);
      applied = next;
      problem = undefined;
    } catch (err) {
      problem = `they do not fit together (${(err as Error).message})`;
    }
    if (problem && problem !== before) onError(new Error(`TLS files ${files}: ${problem}; connections are refused until they are fixed`));
  };
  const onCa = (update: grpc.experimental.CaCertificateUpdate | null) => {
    latest.ca = update;
    apply();
  };
  const onIdentity = (update: grpc.experimental.IdentityCertificateUpdate | null) => {
    latest.identity = update;
    apply();
  };
  provider.addCaCertificateListener(onCa);
  provider.addIdentityCertificateListener(onIdentity);
  const stopListening = () => {
    provider.removeCaCertificateListener(onCa);
    provider.removeIdentityCertificateListener(onIdentity);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([read, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`cannot read the TLS files ${files}`)), 10_000)))]);
    // noDelay: an answer's trailers follow its data in a second small write, which must not wait for an ACK (gRPC servers set TCP_NODELAY).
    server = tls.createServer({ ALPNProtocols: ['h2'], requestCert: true, rejectUnauthorized: true, noDelay: true });
    apply();
    if (problem) throw new Error(`cannot use the TLS files ${files}: ${problem}; check they exist, are PEM files and the key belongs to the certificate`);
  } catch (err) {
    stopListening();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  server.prependListener('connection', (socket: Socket) => {
    if (problem) socket.destroy();
  });
  server.once('close', stopListening);
  return server;
}

/**
 * Pins a verified connection's peer certificate: grpc-js asks the socket for
 * it on every call (getAuthContext), and OpenSSL would build it anew each time.
 * Renegotiation, the one way a TLS 1.2 peer could present another certificate
 * on the same connection, is refused first.
 */
export function pinPeerCertificate(socket: tls.TLSSocket): void {
  socket.disableRenegotiation();
  const read = socket.getPeerCertificate.bind(socket);
  const cert = read();
  socket.getPeerCertificate = ((detailed?: boolean) => (detailed ? read(true) : cert)) as tls.TLSSocket['getPeerCertificate'];
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
