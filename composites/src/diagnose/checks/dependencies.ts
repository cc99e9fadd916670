import type { Container, LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { Check, Facts, Finding } from '../types.js';

/*
 * An app that is up and routed but answers errors because a peer it needs (its
 * database, cache, auth backend) is gone. Its log names the peer in the words
 * of its runtime; a stopped container's name also vanishes from Docker's DNS,
 * hence "no such host".
 */
const UNREACHABLE: readonly RegExp[] = [
  // Go's net: "dial tcp: lookup db on 127.0.0.11:53: no such host", "dial tcp 172.20.0.12:5432: connect: connection refused".
  /dial tcp:? (?:lookup ([\w.-]+)[^\n]*?: no such host|([\w.-]+):\d+: (?:connect: )?(?:connection refused|i\/o timeout|no route to host))/i,
  // libpq and psycopg: could not translate host name "db" to address; ... host "db" ... Connection refused.
  /could not translate host name "([\w.-]+)"/i,
  /connection to server at "([\w.-]+)"[^\n]*?failed/i,
  // Node: getaddrinfo ENOTFOUND redis, connect ECONNREFUSED 172.20.0.5:6379.
  /(?:getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|connect ECONNREFUSED) ([\w.-]+)/i,
  // MySQL/MariaDB clients.
  /Can't connect to \w+ server on '([\w.-]+)'/i,
];

interface Unreachable { peer: string; line: LogLine }

function unreachablePeer(lines: readonly LogLine[]): Unreachable | undefined {
  for (const line of [...lines].reverse()) {
    for (const re of UNREACHABLE) {
      const m = re.exec(line.text);
      const peer = m?.slice(1).find(Boolean);
      if (peer) return { peer, line };
    }
  }
  return undefined;
}

const named = (containers: readonly Container[], peer: string) =>
  containers.find((c) => [c.name, c.composeService].some((n) => n && n.toLowerCase() === peer.toLowerCase()));

function finding(app: Container, found: Unreachable, peer: Container | undefined): Finding {
  const quote = `its log: "${found.line.text.trim()}"`;
  if (peer && peer.state !== 'running') {
    return {
      severity: 'critical', cause: 'container', check: 'dependencies',
      what: `${app.name} is up but cannot reach ${found.peer} (${quote}): container ${peer.name}, which it depends on, is ${peer.state}, so its requests fail.`,
      evidence: [`${app.name}: ${found.line.text.trim()}`, `${peer.name}: state ${peer.state}${peer.status ? ` (${peer.status})` : ''}`],
      fix: `Read why ${peer.name} stopped (the tool call below), fix that, then start it: docker compose up -d ${peer.composeService || peer.name}.`,
      fix_tool: { name: 'tail_logs', arguments: { container: peer.name, lines: 100, ...(peer.node ? { node: peer.node } : {}) } },
    };
  }
  return {
    severity: 'critical', cause: 'app', check: 'dependencies',
    what: peer
      ? `${app.name} cannot reach ${found.peer} (${quote}) though container ${peer.name} runs: they share no network, or ${peer.name} does not listen where ${app.name} looks.`
      : `${app.name} cannot reach ${found.peer} (${quote}), and no container of that name is known: its configuration names a host that does not exist here.`,
    evidence: [`${app.name}: ${found.line.text.trim()}`],
    fix: peer
      ? `Put ${app.name} and ${peer.name} on one Docker network (networks: in the compose file) and check the port ${app.name} is configured with.`
      : `Correct the host in ${app.name}'s configuration (its database or service URL) to the name of the container it needs.`,
  };
}

/** The app's log says a peer it needs is unreachable; a stopped peer container is the cause. */
export const dependenciesCheck: Check = {
  id: 'dependencies',
  needs: ['containers', 'logs'],
  irrelevant: (f: Facts) => (f.related.some((c) => c.state === 'running' && f.logs?.has(c)) ? undefined : 'no running container behind the request has logs to read'),
  run(f) {
    for (const app of f.related.filter((c) => c.state === 'running')) {
      const found = unreachablePeer(f.logs?.get(app) ?? []);
      if (found) return [finding(app, found, named(f.containers ?? [], found.peer))];
    }
    return [];
  },
};
