import { ShardError, toTimestamp } from '@homelab-mcp/shard-kit';
import type { Container } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { ContainerInfo, LogBackend } from './upstream/backend.js';

const SERVICE = 'com.docker.compose.service';
const PROJECT = 'com.docker.compose.project';

export function toContainer(c: ContainerInfo): Container {
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    state: c.state,
    status: c.status,
    health: c.health,
    ...(c.createdAt ? { createdAt: toTimestamp(c.createdAt) } : {}),
    ...(c.startedAt ? { startedAt: toTimestamp(c.startedAt) } : {}),
    composeProject: c.labels[PROJECT] ?? '',
    composeService: c.labels[SERVICE] ?? '',
    host: c.host,
    tty: c.tty,
  };
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0;
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length] ?? 0;
}

/** Finds a container by name, id prefix or compose service; the error lists near matches. */
export async function resolveContainer(backend: LogBackend, ref: string, signal: AbortSignal): Promise<ContainerInfo> {
  const all = await backend.containers(true, signal);
  const r = ref.replace(/^\//, '');
  const exact = all.find((c) => c.name === r) ?? all.find((c) => r.length >= 4 && c.id.startsWith(r)) ?? all.find((c) => c.labels[SERVICE] === r);
  if (exact) return exact;
  const near = all
    .map((c) => ({ c, d: Math.min(distance(r, c.name), c.name.includes(r) || r.includes(c.name) ? 1 : Infinity) }))
    .sort((a, b) => a.d - b.d)
    .filter((x) => x.d <= Math.max(2, Math.floor(r.length / 3)))
    .slice(0, 5)
    .map((x) => x.c.name);
  throw new ShardError('NOT_FOUND', `no container named "${ref}"${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(', ')}?` : ''}`, {
    reason: 'CONTAINER_NOT_FOUND',
    fieldViolations: [{ field: 'container', description: 'no such container' }],
    hint: 'list_containers shows every container with its compose service.',
  });
}
