import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer, createSecureContext, type SecureContext, type Server as TlsServer } from 'node:tls';
import { mkdir, mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueServerCertificate, type CertificateAuthority } from '@homelab-mcp/pki';
import { createApiHandler } from './api.js';
import { directorySignature, loadDirectory } from './file-provider.js';
import { dockerProviderConfig, type SimContainerSpec } from './docker-provider.js';
import { homelabEntryPoints, type EntryPointConfig } from './entry-points.js';
import { buildRuntime, type DynamicConfig, type Runtime } from './runtime.js';

export { buildRuntime, type DynamicConfig, type Runtime } from './runtime.js';
export { dockerProviderConfig, dockerServiceName, keepContainer, type ProviderError, type SimContainerSpec } from './docker-provider.js';
export { homelabEntryPoints, type EntryPointConfig } from './entry-points.js';

export interface TraefikSimOptions {
  /** The file provider's directory (a temporary one when omitted). */
  dynamicDir?: string;
  /** How often the directory is re-read, like providersThrottleDuration (default 2000 ms). */
  throttleMs?: number;
  /** Routers and services of other providers, e.g. { docker: {...} }; default: a small homelab. */
  providers?: Record<string, DynamicConfig>;
  /** Static entry points (default: traefik :8080, web :80 redirecting to websecure, websecure :443). */
  entryPoints?: Record<string, EntryPointConfig>;
  /** Containers for the Docker provider: their labels become the `docker` provider's configuration. */
  containers?: SimContainerSpec[];
  /** Server health as a health check reports it (only servers of services with a healthCheck can be DOWN). */
  serverHealth?: Record<string, 'UP' | 'DOWN'>;
  /** TLS entry point certificates: host -> 'valid' | 'expired' | 'wrong-host'. Default: a few homelab hosts. */
  certificates?: Record<string, 'valid' | 'expired' | 'wrong-host'>;
  host?: string;
  apiPort?: number;
  websecurePort?: number;
}

export interface TraefikSim {
  /** Base of the API, e.g. http://127.0.0.1:1234/api (what TRAEFIK_API takes). */
  apiUrl: string;
  /** host:port of the TLS entry point (websecure). */
  websecureAddress: string;
  dynamicDir: string;
  /** API requests served and connections accepted so far (what the bench divides by tool calls), and the requests by path. */
  apiTraffic(): { requests: number; connections: number; paths: Record<string, number> };
  /** The CA that signed the valid certificates (for clients that verify them). */
  ca: CertificateAuthority;
  /** Why the file provider's last reload failed (Traefik only logs it), or undefined. */
  lastError(): string | undefined;
  /** What a health check finds for this server; shown only for services that have a healthCheck. */
  setServerHealth(url: string, status: 'UP' | 'DOWN'): void;
  /** A container of the Docker provider changes state (e.g. "exited"): its routers come and go with it. */
  setContainerState(name: string, state: string, health?: string): void;
  /** Re-reads the dynamic directory now. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/** A small homelab behind Traefik's Docker provider plus Traefik's own routers. */
export function homelabProviders(): Record<string, DynamicConfig> {
  return {
    docker: {
      http: {
        routers: {
          gitea: { entryPoints: ['websecure'], rule: 'Host(`gitea.home.lan`)', service: 'gitea', tls: { certResolver: 'letsencrypt' } },
          whoami: { entryPoints: ['websecure'], rule: 'Host(`whoami.home.lan`)', service: 'whoami', tls: {} },
          pinchflat: { entryPoints: ['websecure'], rule: 'Host(`pinchflat.home.lan`)', service: 'pinchflat', middlewares: ['authentik@file'], tls: {} },
          // Scenarios for diagnose_service: a typo in the rule, forwardAuth to an app Authentik
          // does not know, an expired and a missing certificate, no healthy server, an exited container.
          nextcloud: { entryPoints: ['websecure'], rule: 'Host(`nextclod.home.lan`)', service: 'nextcloud', tls: {} },
          jellyfin: { entryPoints: ['websecure'], rule: 'Host(`jellyfin.home.lan`)', service: 'jellyfin', middlewares: ['authentik'], tls: {} },
          vault: { entryPoints: ['websecure'], rule: 'Host(`vault.home.lan`)', service: 'vault', tls: {} },
          photos: { entryPoints: ['websecure'], rule: 'Host(`photos.home.lan`)', service: 'photos', tls: {} },
          uptime: { entryPoints: ['websecure'], rule: 'Host(`uptime.home.lan`)', service: 'uptime', tls: {} },
          paperless: { entryPoints: ['websecure'], rule: 'Host(`paperless.home.lan`)', service: 'paperless', tls: {} },
        },
        middlewares: {
          authentik: { forwardAuth: { address: 'http://authentik-server:9000/outpost.goauthentik.io/auth/traefik', trustForwardHeader: true } },
        },
        services: {
          gitea: { loadBalancer: { servers: [{ url: 'http://172.20.0.5:3000' }], healthCheck: { path: '/api/healthz', interval: '30s' } } },
          whoami: { loadBalancer: { servers: [{ url: 'http://172.20.0.6:80' }] } },
          pinchflat: { loadBalancer: { servers: [{ url: 'http://172.20.0.7:8945' }] } },
          nextcloud: { loadBalancer: { servers: [{ url: 'http://172.20.0.8:80' }] } },
          jellyfin: { loadBalancer: { servers: [{ url: 'http://172.20.0.10:8096' }] } },
          vault: { loadBalancer: { servers: [{ url: 'http://172.20.0.11:80' }] } },
          photos: { loadBalancer: { servers: [{ url: 'http://172.20.0.12:2283' }] } },
          uptime: { loadBalancer: { servers: [{ url: 'http://172.20.0.9:3001' }], healthCheck: { path: '/api/status', interval: '10s' } } },
          paperless: { loadBalancer: { servers: [{ url: 'http://172.20.0.13:8000' }] } },
        },
      },
    },
    internal: {
      http: {
        routers: {
          api: { entryPoints: ['traefik'], rule: 'PathPrefix(`/api`)', service: 'api', priority: '9223372036854775806' },
          dashboard: { entryPoints: ['traefik'], rule: 'PathPrefix(`/`)', service: 'dashboard', priority: '9223372036854775805', middlewares: ['dashboard_redirect'] },
        },
        services: { api: {}, dashboard: {}, noop: {} },
        middlewares: { dashboard_redirect: { redirectRegex: { regex: '^(http:\\/\\/(\\[[\\w:.]+\\]|[\\w\\._-]+)(:\\d+)?)\\/$', replacement: '${1}/dashboard/', permanent: true } } },
      },
    },
  };
}

const DEFAULT_CERTS: Record<string, 'valid' | 'expired' | 'wrong-host'> = {
  'gitea.home.lan': 'valid',
  'whoami.home.lan': 'valid',
  'pinchflat.home.lan': 'valid',
  'expired.home.lan': 'expired',
  'wrong.home.lan': 'wrong-host',
  'nextcloud.home.lan': 'valid',
  'jellyfin.home.lan': 'valid',
  'vault.home.lan': 'expired',
  'uptime.home.lan': 'valid',
  'paperless.home.lan': 'valid',
};

/** Servers the stand-in reports DOWN from the start (the "no healthy server" scenario). */
const DOWN_SERVERS = ['http://172.20.0.9:3001'];

/**
 * A Traefik stand-in: the v3.7 API over a runtime built from static providers
 * and a watched file-provider directory, and a TLS entry point that serves
 * certificates by SNI with Traefik's self-signed default certificate otherwise.
 */
export async function startTraefikSim(opts: TraefikSimOptions = {}): Promise<TraefikSim> {
  const host = opts.host ?? '127.0.0.1';
  const dynamicDir = opts.dynamicDir ?? (await mkdtemp(join(tmpdir(), 'traefik-dynamic-')));
  await mkdir(dynamicDir, { recursive: true });
  const providers = opts.providers ?? homelabProviders();
  const entryPoints = opts.entryPoints ?? homelabEntryPoints();
  const containers = (opts.containers ?? []).map((c) => ({ ...c }));
  const health = new Map<string, 'UP' | 'DOWN'>(Object.entries(opts.serverHealth ?? Object.fromEntries(DOWN_SERVERS.map((u) => [u, 'DOWN' as const]))));
  let fileConfig: DynamicConfig = {};
  let lastError: string | undefined;
  let runtime: Runtime = buildRuntime(providers, () => 'UP', entryPoints);
  const rebuild = () => {
    const docker: Record<string, DynamicConfig> = opts.containers ? { docker: dockerProviderConfig(containers) } : {};
    runtime = buildRuntime({ ...providers, ...docker, file: fileConfig }, (url) => health.get(url) ?? 'UP', entryPoints);
  };
  let signature = '';
  const reload = async () => {
    signature = await directorySignature(dynamicDir);
    try {
      fileConfig = await loadDirectory(dynamicDir);
      lastError = undefined;
    } catch (err) {
      // One bad file: nothing from the directory is applied; the last good configuration stays.
      lastError = (err as Error).message;
    }
    rebuild();
  };
  await reload();
  const timer = setInterval(() => {
    void directorySignature(dynamicDir).then((sig) => (sig !== signature ? reload() : undefined));
  }, opts.throttleMs ?? 2000);
  timer.unref();

  const api: Server = createServer(createApiHandler(() => runtime));
  const traffic = { requests: 0, connections: 0 };
  const paths: Record<string, number> = {};
  api.on('request', (req: IncomingMessage) => {
    traffic.requests++;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    paths[path] = (paths[path] ?? 0) + 1;
  });
  api.on('connection', () => traffic.connections++);
  await new Promise<void>((resolve) => api.listen(opts.apiPort ?? 0, host, resolve));

  const ca = await createCa('homelab-sim Traefik CA');
  const day = 86_400_000;
  const defaultCert = await issueServerCertificate(undefined, { commonName: 'TRAEFIK DEFAULT CERT', dnsNames: [`${Math.random().toString(16).slice(2)}.traefik.default`] });
  const contexts = new Map<string, SecureContext>();
  for (const [name, kind] of Object.entries(opts.certificates ?? DEFAULT_CERTS)) {
    const c = await issueServerCertificate(ca, {
      commonName: kind === 'wrong-host' ? 'other.home.lan' : name,
      dnsNames: [kind === 'wrong-host' ? 'other.home.lan' : name],
      ...(kind === 'expired' ? { notBefore: new Date(Date.now() - 400 * day), notAfter: new Date(Date.now() - 10 * day) } : {}),
      organization: 'homelab',
    });
    contexts.set(name, createSecureContext({ cert: c.certPem + ca.certPem, key: c.keyPem }));
  }
  const tls: TlsServer = createTlsServer({
    cert: defaultCert.certPem,
    key: defaultCert.keyPem,
    SNICallback: (servername, cb) => cb(null, contexts.get(servername.toLowerCase()) ?? undefined),
  }, (socket) => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n'));
  tls.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => tls.listen(opts.websecurePort ?? 0, host, resolve));

  return {
    apiUrl: `http://${host}:${(api.address() as AddressInfo).port}/api`,
    websecureAddress: `${host}:${(tls.address() as AddressInfo).port}`,
    dynamicDir,
    ca,
    apiTraffic: () => ({ ...traffic, paths: { ...paths } }),
    lastError: () => lastError,
    setServerHealth: (url, status) => {
      health.set(url, status);
      rebuild();
    },
    setContainerState: (name, state, containerHealth) => {
      const c = containers.find((x) => x.name === name);
      if (!c) throw new Error(`no container named ${name}`);
      c.state = state;
      if (containerHealth !== undefined) c.health = containerHealth;
      rebuild();
    },
    reload,
    close: async () => {
      clearInterval(timer);
      api.closeAllConnections();
      await Promise.all([new Promise<void>((r) => api.close(() => r())), new Promise<void>((r) => tls.close(() => r()))]);
    },
  };
}
