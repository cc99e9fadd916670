import type { Container, LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { bare, servicePortFix } from '../labels.js';
import { lastHop, type Check, type Facts, type Finding } from '../types.js';

// "Listening on :8080", "listening on port 8080", "Rocket has launched from http://0.0.0.0:8000", "Started server on 0.0.0.0:3000",
// and a local address alone, as Next.js and Vite print it ("- Local: http://localhost:3000").
const LISTEN = /\b(?:listen(?:ing|s)?|launched|started|serving|bound|running)\b[^\n]*?(?:port\s+|:)(\d{2,5})\b|\/\/(?:localhost|0\.0\.0\.0|127\.0\.0\.1|\[::1?\]):(\d{2,5})\b/i;

/** The port an app's own log says it listens on, from its most recent mention. */
export function loggedPort(lines: readonly LogLine[]): number | undefined {
  for (const l of [...lines].reverse()) {
    const m = LISTEN.exec(l.text);
    if (m) return Number(m[1] ?? m[2]);
  }
  return undefined;
}

const portOf = (url: string) => { const u = new URL(url); return Number(u.port || (u.protocol === 'https:' ? 443 : 80)); };

function mismatch(f: Facts, c: Container, url: string, service: string): Finding | undefined {
  const port = portOf(url);
  const logged = loggedPort(f.logs?.get(c) ?? []);
  const exposed = c.exposedPorts;
  if (logged !== undefined && logged !== port) {
    const line = [...(f.logs?.get(c) ?? [])].reverse().find((l) => LISTEN.test(l.text))?.text ?? '';
    return { severity: 'critical', cause: 'server-port', check: 'server-port', what: `Traefik sends ${service}'s traffic to ${url}, but ${c.name} listens on ${logged} (its own log says so).`, evidence: [`server ${url}`, `${c.name}: ${line}`, ...(exposed.length ? [`exposed ports ${exposed.join(', ')}`] : [])], fix: servicePortFix(service, logged, url) };
  }
  if (logged === undefined && exposed.length && !exposed.includes(port)) {
    return { severity: 'critical', cause: 'server-port', check: 'server-port', what: `Traefik sends ${service}'s traffic to port ${port}, which ${c.name} does not expose (it exposes ${exposed.join(', ')}).`, evidence: [`server ${url}`], fix: servicePortFix(service, exposed[0]!, url) };
  }
  return undefined;
}

/** The server URL's port against the container's exposed ports and the port its log says it listens on. */
export const serverPortCheck: Check = {
  id: 'server-port',
  needs: ['trace', 'containers', 'logs'],
  irrelevant(f) {
    if (!lastHop(f)?.service?.servers.length) return 'no server is reached';
    return f.related.some((c) => c.state === 'running') ? undefined : 'no running container is known behind the servers';
  },
  run(f) {
    const { svc, c } = behind(f);
    return svc.servers.flatMap((s) => mismatch(f, c, s.url, svc.name) ?? []).slice(0, 1);
  },
};

// What a server that speaks only TLS logs when spoken to in plain HTTP: Go's net/http, nginx, OpenSSL.
const TLS_ONLY = /client sent an HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port|TLS handshake error|SSL routines[^\n]*(?:http request|wrong version number)/i;
// "starting HTTPS server on port :9443", "TLS listener on 0.0.0.0:8443".
const TLS_LISTEN = /\b(?:https|tls|ssl)\b[^\n]*?(?:port\s+|:)(\d{2,5})\b/i;

function schemeFix(service: string, url: string): string {
  if (service.endsWith('@docker')) return `Set the label traefik.http.services.${bare(service)}.loadbalancer.server.scheme=https on its container and recreate it; if the app's certificate is self-signed, also give the service a serversTransport with insecureSkipVerify: true (label traefik.http.services.${bare(service)}.loadbalancer.serverstransport=<name>@file).`;
  const u = new URL(url);
  return `In the ${service.split('@')[1] ?? ''} provider's configuration, change the server ${url} of http.services.${bare(service)} to https://${u.host} (with a serversTransport that skips verification if the app's certificate is self-signed).`;
}

/** The service the request reaches, the running container behind it and that container's recent log lines. */
function behind(f: Facts) {
  const c = f.related.find((x) => x.state === 'running')!;
  return { svc: lastHop(f)!.service!, c, lines: f.logs?.get(c) ?? [] };
}

/** Plain HTTP to a port where the app speaks only TLS: the app refuses each request, and Traefik still reports the server UP. */
export const serverSchemeCheck: Check = {
  id: 'server-scheme',
  needs: ['trace', 'containers', 'logs'],
  irrelevant: (f) => serverPortCheck.irrelevant!(f),
  run(f) {
    const { svc, c, lines } = behind(f);
    const refused = [...lines].reverse().find((l) => TLS_ONLY.test(l.text));
    return svc.servers.filter((s) => s.url.startsWith('http://')).flatMap((s): Finding[] => {
      const tlsPort = lines.map((l) => TLS_LISTEN.exec(l.text)?.[1]).find((p) => p !== undefined && Number(p) === portOf(s.url));
      if (!refused && !tlsPort) return [];
      return [{
        severity: 'critical', cause: 'service', check: 'server-scheme',
        what: `Traefik speaks plain HTTP to ${s.url}, but ${c.name} serves only HTTPS there: it refuses every request (400) while Traefik reports the server UP.`,
        evidence: [`server ${s.url}`, `${c.name}: ${(refused ?? lines.find((l) => TLS_LISTEN.test(l.text)))?.text ?? ''}`],
        fix: schemeFix(svc.name, s.url),
      }];
    }).slice(0, 1);
  },
};

// "Running on http://127.0.0.1:5000" (Flask), "Uvicorn running on http://127.0.0.1:8000", "listening on [::1]:8080".
const LOOPBACK_LISTEN = /\b(?:listen(?:ing|s)?|running|serving|bound|started)\b[^\n]*?(?:127\.0\.0\.1|\[::1\]):(\d{2,5})\b/i;
const ALL_INTERFACES = /\b0\.0\.0\.0\b|\[::\]:/;

/** The app listens on the loopback address inside its container: only the container itself can reach it, Traefik is refused (502). */
export const loopbackBindCheck: Check = {
  id: 'loopback-bind',
  needs: ['trace', 'containers', 'logs'],
  irrelevant: (f) => serverPortCheck.irrelevant!(f),
  run(f) {
    const { svc, c, lines } = behind(f);
    if (lines.some((l) => ALL_INTERFACES.test(l.text))) return [];
    const line = [...lines].reverse().find((l) => LOOPBACK_LISTEN.test(l.text));
    const server = line && svc.servers.find((s) => portOf(s.url) === Number(LOOPBACK_LISTEN.exec(line.text)?.[1]));
    if (!line || !server) return [];
    return [{
      severity: 'critical', cause: 'app', check: 'loopback-bind',
      what: `${c.name} listens on the loopback address only (its log: "${line.text.trim()}"): inside a container that is reachable from the container itself, so Traefik's connection to ${server.url} is refused (502) while it reports the server UP.`,
      evidence: [`server ${server.url}`, `${c.name}: ${line.text.trim()}`],
      fix: `Make ${c.name} listen on all interfaces (0.0.0.0) inside its container: its host or bind setting (e.g. flask run --host=0.0.0.0, uvicorn --host 0.0.0.0, HOST=0.0.0.0), then recreate it.`,
    }];
  },
};
