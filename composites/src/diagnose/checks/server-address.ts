import { isIP } from 'node:net';
import { distance } from 'fastest-levenshtein';
import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { lastHop, type Check, type Facts, type Finding } from '../types.js';
import { bare, hostOf } from '../labels.js';


/** A single-label name is what Docker's embedded DNS answers for: a container name, a compose service or an alias. */
const dockerName = (host: string) => host !== '' && !host.includes('.') && isIP(host) === 0 && host !== 'localhost';

const namesOf = (c: Container) => [c.name, c.composeService].filter(Boolean).map((n) => n.toLowerCase());

/** A running container whose name is a near spelling of the host (renamed, prefixed, a typo). */
function nearest(host: string, containers: readonly Container[]): Container | undefined {
  const close = (n: string) => n.includes(host) || host.includes(n) || distance(n, host) <= Math.max(1, Math.floor(host.length / 4));
  return containers.filter((c) => c.state === 'running' && namesOf(c).some(close))
    .sort((a, b) => Math.min(...namesOf(a).map((n) => distance(n, host))) - Math.min(...namesOf(b).map((n) => distance(n, host))))[0];
}

function finding(service: string, url: string, host: string, near: Container): Finding {
  const fixed = new URL(url);
  fixed.hostname = near.name;
  return {
    severity: 'critical', cause: 'service', check: 'server-address',
    what: `Service ${service} sends traffic to ${url}, but no container answers to "${host}": Docker's DNS does not resolve it and Traefik answers 502. The running container ${near.name} is the nearest name.`,
    evidence: [`server ${url}`, `running containers named like it: ${near.name}${near.composeService && near.composeService !== near.name ? ` (compose service ${near.composeService})` : ''}`],
    fix: `Point the server at the running container: change ${url} to ${fixed.origin}${fixed.pathname === '/' ? '' : fixed.pathname} in http.services.${bare(service)} (or give the container the network alias ${host}).`,
  };
}

/** No near name either: it may be a container on another Docker host, so this is a warning, not a verdict. */
function unknown(service: string, url: string, host: string): Finding {
  return {
    severity: 'warning', cause: 'service', check: 'server-address',
    what: `Service ${service} sends traffic to ${url}, and no container the Watchman sees is named "${host}": unless it runs on another Docker host on Traefik's network, Docker's DNS does not resolve it and Traefik answers 502.`,
    evidence: [`server ${url}`],
    fix: `Check the name: list_containers shows what runs here; point http.services.${bare(service)}'s server at one of them (its container name or compose service) and the port it listens on.`,
    fix_tool: { name: 'list_containers', arguments: { all: true } },
  };
}

/** A server addressed by a Docker name that no container has, while a container of a near name runs. */
export const serverAddressCheck: Check = {
  id: 'server-address',
  needs: ['trace', 'containers'],
  irrelevant: (f) => (lastHop(f)?.service?.servers.some((s) => dockerName(hostOf(s.url))) ? undefined : 'no server is addressed by a container name'),
  run(f: Facts) {
    const svc = lastHop(f)!.service!;
    const known = new Set((f.containers ?? []).flatMap(namesOf));
    return svc.servers.flatMap((s) => {
      const host = hostOf(s.url);
      if (!dockerName(host) || known.has(host)) return [];
      const near = nearest(host, f.containers ?? []);
      return [near ? finding(svc.name, s.url, host, near) : unknown(svc.name, s.url, host)];
    }).slice(0, 1);
  },
};
