import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { parseGoBool } from '@homelab-mcp/upstream-types/traefik.js';
import { enableLabel } from '../labels.js';
import type { Check, Facts, Finding } from '../types.js';

const CRASH_LOOP_RESTARTS = 3;

const routesThrough = (c: Container) => Object.keys(c.traefikLabels).some((k) => /^traefik\.http\.routers\./i.test(k));

function problem(c: Container): string | undefined {
  if (['exited', 'dead', 'created'].includes(c.state)) return `is ${c.state}`;
  if (c.state === 'restarting') return 'is crash-looping (restarting)';
  if (c.state === 'paused') return 'is paused';
  if (c.health === 'unhealthy') return 'is unhealthy (its HEALTHCHECK fails)';
  // Traefik's Docker provider keeps a container with a health check only once it reports healthy: "starting" drops it too.
  if (c.health === 'starting') return 'is still starting (its HEALTHCHECK has not passed yet)';
  if (c.restartCount >= CRASH_LOOP_RESTARTS && c.state === 'running') return `is crash-looping (${c.restartCount} restarts)`;
  return undefined;
}

/** A running container whose labels route it but which Traefik's Docker provider passes over by its own label. */
function disabledByLabel(c: Container): Finding | undefined {
  const { key: label, value } = enableLabel(c) ?? {};
  if (value === undefined || parseGoBool(value) === true || !routesThrough(c)) return undefined;
  return {
    severity: 'critical',
    cause: 'container',
    check: 'container',
    what: `Container ${c.name} has the label traefik.enable=${value}: Traefik's Docker provider skips it, so the routers its labels declare do not exist and the host answers 404.`,
    evidence: [`${label}=${value}`, ...Object.keys(c.traefikLabels).filter((k) => /\.rule$/i.test(k)).map((k) => `${k}=${c.traefikLabels[k]}`)],
    fix: `Set the label traefik.enable=true on ${c.composeService || c.name} (or remove it where exposedByDefault is on) and recreate it: docker compose up -d ${c.composeService || c.name}.`,
  };
}

function finding(c: Container, what: string): Finding {
  const dropped = routesThrough(c) ? ": Traefik's Docker provider keeps only running, healthy containers, so its router is gone and the host answers 404" : ': nothing answers behind the router';
  return {
    severity: 'critical',
    cause: 'container',
    check: 'container',
    what: `Container ${c.name}${c.node ? ` on node ${c.node}` : ''} ${what}${dropped}.`,
    evidence: [`state ${c.state}${c.health ? `, health ${c.health}` : ''}`, c.status, ...(c.restartCount ? [`${c.restartCount} restarts`] : [])].filter(Boolean),
    fix: c.state === 'paused'
      ? `Unpause it: docker unpause ${c.name}.`
      : `Read why it ${c.state === 'running' ? 'fails' : 'stopped'} in its last lines (the tool call below), fix that, then start it: docker compose up -d ${c.composeService || c.name}.`,
    fix_tool: { name: 'tail_logs', arguments: { container: c.name, lines: 100, ...(c.node ? { node: c.node } : {}) } },
  };
}

/** A stopped, crash-looping or unhealthy container explains a vanished router: the first cause to rule out. */
export const containerCheck: Check = {
  id: 'container',
  needs: ['containers'],
  irrelevant: (f: Facts) => (f.related.length ? undefined : 'no container carries this host in its labels or its name'),
  run: (f) => f.related.flatMap((c) => {
    const what = problem(c);
    if (what) return [finding(c, what)];
    const disabled = disabledByLabel(c);
    return disabled ? [disabled] : [];
  }).slice(0, 1),
};
