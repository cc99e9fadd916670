import type { DozzleContainer } from '@homelab-mcp/upstream-types/dozzle.js';

export interface SimLogLine {
  ts: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface SimContainer {
  container: DozzleContainer;
  logs: SimLogLine[];
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function container(id: string, name: string, image: string, state: string, opts: { health?: string; service?: string; startedMinutesAgo?: number; finishedMinutesAgo?: number; memory?: number; cpu?: number } = {}): DozzleContainer {
  const now = Date.now();
  const started = new Date(now - (opts.startedMinutesAgo ?? 600) * 60_000).toISOString();
  const memoryUsage = opts.memory ?? 120 * MiB;
  return {
    id,
    name,
    image,
    command: '',
    created: new Date(now - 7 * 86_400_000).toISOString(),
    startedAt: started,
    finishedAt: opts.finishedMinutesAgo !== undefined ? new Date(now - opts.finishedMinutesAgo * 60_000).toISOString() : '0001-01-01T00:00:00Z',
    state,
    ...(opts.health ? { health: opts.health } : {}),
    host: 'localhost',
    labels: { 'com.docker.compose.project': 'homelab', 'com.docker.compose.service': opts.service ?? name },
    stats: state === 'running' ? [{ id, cpu: opts.cpu ?? 1.5, memory: (memoryUsage / (2 * GiB)) * 100, memoryUsage, networkRxTotal: 52_428_800, networkTxTotal: 10_485_760, diskReadTotal: 4_194_304, diskWriteTotal: 1_048_576 }] : [],
    memoryLimit: 2 * GiB,
    cpuLimit: 0,
  };
}

export function lines(id: string, count: number, make: (i: number) => [SimLogLine['stream'], string]): SimLogLine[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const [stream, text] = make(i);
    return { ts: now - (count - i) * 30_000, stream, text: text.replace('{id}', id) };
  });
}

/** A small homelab as Dozzle sees it: healthy services, a crash-looping one, an exited one. */
export function homelabContainers(): SimContainer[] {
  return [
    {
      container: container('a1b2c3d4e5f6a1b2c3d4e5f6', 'gitea', 'gitea/gitea:1.24', 'running', { health: 'healthy', memory: 310 * MiB, cpu: 2.1 }),
      logs: lines('gitea', 300, (i) =>
        i % 50 === 49
          ? ['stderr', `2026/11/24 10:${String(i % 60).padStart(2, '0')}:00 ...les/database.go:180:Fatal() [E] database is locked`]
          : i % 10 === 3
            ? ['stdout', `[Macaron] 2026-11-24 10:00:00: Completed GET /user/login 404 Not Found in 2.1ms`]
            : ['stdout', `2026/11/24 10:00:00 router: completed GET /api/v1/repos/search 200 OK in 3.4ms (token=ghp_abcdefghijklmnopqrstuvwxyz0123456789)`]),
    },
    {
      container: container('b2c3d4e5f6a1b2c3d4e5f6a1', 'traefik', 'traefik:v3.7.9', 'running', { health: 'healthy', memory: 95 * MiB, cpu: 0.8 }),
      logs: lines('traefik', 120, (i) => [i % 40 === 0 ? 'stderr' : 'stdout', i % 40 === 0 ? 'ERR error="middleware \\"authentik@file\\" does not exist" entryPointName=websecure routerName=pinchflat@docker' : `INF Configuration loaded from flags.`]),
    },
    {
      container: container('c3d4e5f6a1b2c3d4e5f6a1b2', 'authentik-server', 'ghcr.io/goauthentik/server:2026.8.3', 'running', { health: 'healthy', memory: 1536 * MiB, cpu: 6.5, service: 'server' }),
      logs: lines('authentik', 80, () => ['stdout', '{"event": "Task finished", "level": "info", "logger": "authentik.root.celery"}']),
    },
    {
      container: container('d4e5f6a1b2c3d4e5f6a1b2c3', 'pinchflat', 'keglin/pinchflat:v2025.6.6', 'restarting', { startedMinutesAgo: 1, finishedMinutesAgo: 1, memory: 0 }),
      logs: lines('pinchflat', 40, (i) => ['stderr', i % 2 ? '\u001b[31m** (RuntimeError) could not start: port 8945 already in use\u001b[0m' : 'Starting pinchflat on port 8945']),
    },
    {
      container: container('f6a1b2c3d4e5f6a1b2c3d4e5', 'whoami', 'traefik/whoami:v1.11', 'running', { memory: 8 * MiB, cpu: 0.1 }),
      logs: lines('whoami', 30, () => ['stdout', '172.20.0.2 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 312']),
    },
    {
      container: container('a6b1c2d3e4f5a6b1c2d3e4f5', 'paperless', 'ghcr.io/paperless-ngx/paperless-ngx:2.18', 'exited', { finishedMinutesAgo: 12 }),
      logs: lines('paperless', 20, (i) => ['stderr', i === 19 ? 'django.db.utils.OperationalError: could not connect to server: Connection refused' : 'Paperless-ngx starting']),
    },
    {
      container: container('e5f6a1b2c3d4e5f6a1b2c3d4', 'backup', 'restic/restic:0.18', 'exited', { finishedMinutesAgo: 90 }),
      logs: lines('backup', 10, (i) => ['stdout', i === 9 ? 'Fatal: unable to open repository: password=hunter2 is wrong' : `snapshot ${i} saved`]),
    },
  ];
}

/** Dozzle's level guess (container/level_guesser.go), enough for the stand-in. */
export function guessLevel(text: string): string {
  const m = /\b(trace|debug|info|warn(?:ing)?|error|err|fatal|panic)\b|\[(E|W|I|D)\]|\b(INF|WRN|ERR|DBG|FTL)\b/i.exec(text);
  const word = (m?.[1] ?? m?.[2] ?? m?.[3] ?? '').toLowerCase();
  if (!word) return 'unknown';
  if (word.startsWith('warn') || word === 'w' || word === 'wrn') return 'warn';
  if (word === 'err' || word === 'error' || word === 'e') return 'error';
  if (word === 'fatal' || word === 'panic' || word === 'ftl') return 'fatal';
  if (word === 'i' || word === 'inf') return 'info';
  if (word === 'd' || word === 'dbg') return 'debug';
  return word;
}
