import type { Container, LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { servicePortFix } from '../labels.js';
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
  const logged = loggedPort(f.logs?.get(c.name) ?? []);
  const exposed = c.exposedPorts;
  if (logged !== undefined && logged !== port) {
    const line = [...(f.logs?.get(c.name) ?? [])].reverse().find((l) => LISTEN.test(l.text))?.text ?? '';
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
    const svc = lastHop(f)!.service!;
    const c = f.related.find((x) => x.state === 'running')!;
    return svc.servers.flatMap((s) => mismatch(f, c, s.url, svc.name) ?? []).slice(0, 1);
  },
};
