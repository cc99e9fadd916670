import { ShardError, completeFrom, type ShardHandlers } from '@homelab-mcp/shard-kit';
import { Role } from '@homelab-mcp/proto/ts/homelab/mcp/v1/surface.js';
import { LogLevel, type WatchmanServiceService } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { resolveContainer } from './containers.js';
import { cleanLine, guessLevel } from './lines.js';
import type { ContainerInfo, LogBackend } from './upstream/backend.js';

type SurfaceHandlers = Pick<ShardHandlers<typeof WatchmanServiceService>, 'readContainerLogs' | 'watchContainerLogs' | 'listContainerLogResources' | 'completeContainers' | 'reviewContainerErrors'>;

const RESOURCE_LINES = 200;
const REVIEW_LINES = 500;
const REVIEW_SHOWN = 60;

/** The last n lines of a container, cleaned as every tool cleans them. */
async function lastLines(backend: LogBackend, c: ContainerInfo, n: number, signal: AbortSignal, since?: Date): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of backend.logs(c, { stdout: true, stderr: true, ...(since ? { since } : { tail: n }) }, signal)) {
    for (const raw of batch) out.push(`${raw.time.toISOString()} ${raw.stream === 'stderr' ? 'E' : 'O'} ${cleanLine(raw.text, c.secrets).text}`);
  }
  return out.slice(-n);
}

/** "15m", "2h", "1d" -> a date that long ago. */
function sinceOf(text: string): Date | undefined {
  if (!text) return undefined;
  const m = /^(\d{1,5})([smhd])$/.exec(text.trim());
  if (!m) throw new ShardError('INVALID_ARGUMENT', `since "${text}" is not a duration such as "15m", "2h" or "1d"`, { fieldViolations: [{ field: 'since', description: 'not a duration such as 2h' }] });
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return new Date(Date.now() - Number(m[1]) * unit);
}

/** The Watchman's resources (container logs), their completions and its prompt. */
export function createSurfaceHandlers(backend: LogBackend): SurfaceHandlers {
  return {
    readContainerLogs: async (req, ctx) => {
      const c = await resolveContainer(backend, req.container, ctx.signal);
      const lines = await lastLines(backend, c, RESOURCE_LINES, ctx.signal);
      return { contents: [{ uri: '', mimeType: 'text/plain', text: lines.join('\n') }] };
    },

    watchContainerLogs: async function* (req, ctx) {
      const c = await resolveContainer(backend, req.container, ctx.signal);
      for await (const raws of backend.follow(c, { stdout: true, stderr: true, since: new Date() }, ctx.signal)) {
        if (raws.length) yield { lines: raws.length };
      }
    },

    listContainerLogResources: async (_req, ctx) => {
      const all = await backend.containers(true, ctx.signal);
      return {
        resources: all
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((c) => ({ uri: `docker://containers/${encodeURIComponent(c.name)}/logs`, name: `${c.name}-logs`, title: `${c.name} logs`, description: `Last ${RESOURCE_LINES} log lines of ${c.name} (${c.image}, ${c.state}).`, mimeType: 'text/plain' })),
      };
    },

    completeContainers: async (req, ctx) => {
      const all = await backend.containers(true, ctx.signal);
      const names = all.sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || a.name.localeCompare(b.name)).map((c) => c.name);
      return completeFrom(names, req.value);
    },

    reviewContainerErrors: async (req, ctx) => {
      const c = await resolveContainer(backend, req.container, ctx.signal);
      const lines = await lastLines(backend, c, REVIEW_LINES, ctx.signal, sinceOf(req.since));
      const bad = lines.filter((l) => {
        const level = guessLevel(l);
        return level === LogLevel.LOG_LEVEL_WARN || level === LogLevel.LOG_LEVEL_ERROR || level === LogLevel.LOG_LEVEL_FATAL;
      });
      const window = req.since ? `in the last ${req.since}` : `in its last ${REVIEW_LINES} lines`;
      const shown = bad.slice(-REVIEW_SHOWN);
      const text = [
        `Review the recent errors of the container "${c.name}" (image ${c.image}, ${c.state}${c.health ? `, health ${c.health}` : ''}).`,
        bad.length ? `It logged ${bad.length} warning or error lines ${window}; the last ${shown.length}:` : `It logged no warning or error lines ${window}.`,
        ...(shown.length ? ['```', ...shown, '```'] : []),
        'Group them by cause, say which one matters most and why, and suggest a concrete fix for each. ' +
          'Use search_logs to look further back, get_container_stats for restarts and memory, and diagnose_service if the container serves a web route.',
      ].join('\n');
      return { description: `Recent errors of ${c.name}`, messages: [{ role: Role.ROLE_USER, content: { text } }] };
    },
  };
}
