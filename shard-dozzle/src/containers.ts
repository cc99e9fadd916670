import { cleanText } from '@homelab-mcp/hygiene';
import { ShardError, toTimestamp } from '@homelab-mcp/shard-kit';
import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { ContainerInfo, LogBackend } from './upstream/backend.js';
import { distance } from 'fastest-levenshtein';

const SERVICE = 'com.docker.compose.service';
const PROJECT = 'com.docker.compose.project';

const clean = (s: string | undefined) => cleanText(s ?? '').text;

// Routing labels only: middleware labels other than forwardAuth's address can hold
// credentials (basicAuth users, header values), so they stay hidden.
const ROUTING_LABEL = /^traefik\.(?:enable|http\.routers\.[^.]+\.[a-z.]+|http\.services\.[^.]+\.loadbalancer\.server\.(?:port|scheme|url)|http\.middlewares\.[^.]+\.forwardauth\.address)$/i;

function traefikLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => ROUTING_LABEL.test(k)).map(([k, v]) => [k, clean(v)]));
}

/**
 * A container as the tools show it: every text the upstream gave is redacted
 * like a log line; its environment, other labels, command line and mounts are
 * not shown at all.
 */
export function toContainer(c: ContainerInfo): Container {
  return {
    // The gateway names the node when it merges several Watchmen.
    node: '',
    id: clean(c.id),
    name: clean(c.name),
    image: clean(c.image),
    state: clean(c.state),
    status: clean(c.status),
    health: clean(c.health),
    ...(c.createdAt ? { createdAt: toTimestamp(c.createdAt) } : {}),
    ...(c.startedAt ? { startedAt: toTimestamp(c.startedAt) } : {}),
    composeProject: clean(c.labels[PROJECT]),
    composeService: clean(c.labels[SERVICE]),
    host: clean(c.host),
    tty: c.tty,
    traefikLabels: traefikLabels(c.labels),
    restartCount: c.restartCount,
    exposedPorts: c.exposedPorts ?? [],
  };
}

/**
 * Finds a container among `all` by name, id prefix or compose service, as
 * toContainer shows them (a caller finds only what it can see); the error
 * lists near matches.
 */
export function findContainer(all: readonly ContainerInfo[], ref: string): ContainerInfo {
  const shown = all.map((info) => ({ info, c: toContainer(info) }));
  const r = ref.replace(/^\//, '');
  const exact = shown.find(({ c }) => c.name === r) ?? shown.find(({ c }) => r.length >= 4 && c.id.startsWith(r)) ?? shown.find(({ c }) => c.composeService === r);
  if (exact) return exact.info;
  const near = shown
    .map(({ c }) => ({ name: c.name, d: Math.min(distance(r, c.name), c.name.includes(r) || r.includes(c.name) ? 1 : Infinity) }))
    .sort((a, b) => a.d - b.d)
    .filter((x) => x.d <= Math.max(2, Math.floor(r.length / 3)))
    .slice(0, 5)
    .map((x) => x.name);
  throw new ShardError('NOT_FOUND', `no container named "${ref}"${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(', ')}?` : ''}`, {
    reason: 'CONTAINER_NOT_FOUND',
    fieldViolations: [{ field: 'container', description: 'no such container' }],
    hint: 'list_containers shows every container with its compose service.',
  });
}

/** Finds one container by name, id prefix or compose service (see findContainer). */
export async function resolveContainer(backend: LogBackend, ref: string, signal: AbortSignal): Promise<ContainerInfo> {
  return findContainer(await backend.containers(true, signal), ref);
}
