import type { Logger } from 'pino';
import { fromMs, fromTimestamp, ShardError, toMs, type Duration, type ShardHandlers, type Timestamp } from '@homelab-mcp/shard-kit';
import {
  ContainerStats,
  GetContainerStatsResponse,
  LogLevel,
  StatsSort,
  StreamSelection,
  TailLogsResponse,
  type LogLine,
  SearchLogsResponse,
  type StatsSample,
  type WatchmanServiceService,
} from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { LogSeverity, type CallUpdate } from '@homelab-mcp/proto/ts/homelab/mcp/v1/tool.js';
import { CPU_COLOR, MEMORY_COLOR, percentChart } from './chart.js';
import { findContainer, resolveContainer, toContainer } from './containers.js';
import { compileQuery } from './line-matcher.js';
import { searchContainer, type SearchPlan } from './search.js';
import { createSurfaceHandlers } from './surface.js';
import { cleanLine, toLogLine } from './lines.js';
import type { ContainerInfo, LogBackend, LogQuery } from './upstream/backend.js';

type Ts = Timestamp | undefined;
type Dur = Duration | undefined;

const toDate = (t: Ts) => (t ? fromTimestamp(t) : undefined);
const msOf = (d: Dur) => (d ? toMs(d) : 0);

function query(streams: StreamSelection, since: Ts, until: Ts, window: Dur): LogQuery {
  const s = toDate(since) ?? (msOf(window) > 0 ? new Date(Date.now() - msOf(window)) : undefined);
  const u = toDate(until);
  if (s && u && s >= u) throw new ShardError('INVALID_ARGUMENT', '`since` must be before `until`', { fieldViolations: [{ field: 'since', description: 'after until' }] });
  return {
    stdout: streams !== StreamSelection.STREAM_SELECTION_STDERR,
    stderr: streams !== StreamSelection.STREAM_SELECTION_STDOUT,
    ...(s ? { since: s } : {}),
    ...(u ? { until: u } : {}),
  };
}

const SORTS: Record<number, (s: ContainerStats) => number> = {
  [StatsSort.STATS_SORT_CPU]: (s) => s.cpuPercent,
  [StatsSort.STATS_SORT_MEMORY]: (s) => Number(s.memoryUsageBytes),
  [StatsSort.STATS_SORT_NETWORK]: (s) => Number(s.networkRxBytes) + Number(s.networkTxBytes),
  [StatsSort.STATS_SORT_BLOCK_IO]: (s) => Number(s.blockReadBytes) + Number(s.blockWriteBytes),
  [StatsSort.STATS_SORT_RESTARTS]: (s) => s.restartCount,
};

/** A stream message that only tells the client how the search goes (the gateway relays it, the result leaves it out). */
const update = (u: CallUpdate): SearchLogsResponse => SearchLogsResponse.fromPartial({ update: u });

const MIN_WINDOW_MS = 1_000;
const MAX_WINDOW_MS = 300_000;
const MAX_SAMPLES = 30;

const windowError = (message: string) => new ShardError('INVALID_ARGUMENT', message, { fieldViolations: [{ field: 'window', description: message }] });

/** Samples one container for the window, then charts CPU and memory: the series and the PNG. */
async function sampleWindow(backend: LogBackend, container: string, ms: number, ctx: { signal: AbortSignal; deadline?: Date | undefined }): Promise<Pick<GetContainerStatsResponse, 'series' | 'charts'>> {
  if (!container) throw windowError('window samples one container: name it in "container"');
  if (ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS) throw windowError(`window must be from 1s to 5m, e.g. "30s"`);
  if (ctx.deadline && ctx.deadline.getTime() < Date.now() + ms + 2_000) {
    throw new ShardError('INVALID_ARGUMENT', `the call's deadline ends before a ${ms / 1000}s window does`, { fieldViolations: [{ field: 'window', description: 'longer than the call may take' }], hint: `Ask for a longer deadline (_meta timeout_ms of at least ${ms + 5_000}) or a shorter window.` });
  }
  const c = await resolveContainer(backend, container, ctx.signal);
  if (c.state !== 'running') throw new ShardError('FAILED_PRECONDITION', `${c.name} is ${c.state}; only a running container has usage to sample`, { hint: 'Start it, or call get_container_stats without window for its last state.' });
  const interval = Math.max(MIN_WINDOW_MS, Math.ceil(ms / (MAX_SAMPLES - 1)));
  const count = Math.floor(ms / interval) + 1;
  const series: StatsSample[] = [];
  for (let i = 0; i < count && !ctx.signal.aborted; i++) {
    if (i > 0) await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, interval);
      ctx.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    const s = await backend.stats(c, ctx.signal);
    series.push({ at: fromMs(Date.now()), cpuPercent: s.cpuPercent, memoryPercent: s.memoryLimit > 0 ? (s.memoryUsage / s.memoryLimit) * 100 : 0, memoryUsageBytes: String(Math.round(s.memoryUsage)) });
  }
  const png = await percentChart([
    { values: series.map((p) => p.cpuPercent), color: CPU_COLOR },
    { values: series.map((p) => p.memoryPercent), color: MEMORY_COLOR },
  ]);
  return { series, charts: [{ image: { data: png, mimeType: 'image/png' } }] };
}

/** The Watchman's handlers, on one log backend (Docker through the proxy, or Dozzle). */
export function createHandlers(backend: LogBackend, _logger: Logger): ShardHandlers<typeof WatchmanServiceService> {
  return {
    ...createSurfaceHandlers(backend),
    listContainers: async (req, ctx) => {
      const all = await backend.containers(req.all, ctx.signal);
      const needle = req.name.toLowerCase();
      const containers = all
        .map(toContainer)
        .filter((c) => !needle || [c.name, c.image, c.composeService].some((v) => v.toLowerCase().includes(needle)))
        .sort((a, b) => a.name.localeCompare(b.name));
      return { containers };
    },

    tailLogs: async function* (req, ctx) {
      const c = await resolveContainer(backend, req.container, ctx.signal);
      const n = req.lines || 100;
      const q = query(req.streams, req.since, req.until, req.window);
      const ring: LogLine[] = [];
      let redactions = 0;
      let seen = 0;
      for await (const batch of backend.logs(c, { ...q, ...(q.since || q.until ? {} : { tail: n }) }, ctx.signal)) {
        // Only the last n lines are cleaned; the rest are counted.
        seen += batch.length;
        for (const raw of batch.slice(-n)) {
          const cleaned = cleanLine(raw.text, c.secrets);
          redactions += cleaned.redactions;
          ring.push(toLogLine(raw, cleaned));
          if (ring.length > n) ring.shift();
        }
      }
      yield TailLogsResponse.fromPartial({ container: toContainer(c), lines: ring, redactions, truncated: seen > ring.length });
      if (!req.follow) return;
      const until = Date.now() + Math.min(msOf(req.followFor) || 30_000, 300_000);
      const stop = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.max(0, until - Date.now()))]);
      let batch: LogLine[] = [];
      let batchRedactions = 0;
      let flushAt = Date.now() + 250;
      for await (const raws of backend.follow(c, q, stop)) {
        for (const raw of raws) {
          const cleaned = cleanLine(raw.text, c.secrets);
          batch.push(toLogLine(raw, cleaned));
          batchRedactions += cleaned.redactions;
        }
        if (Date.now() >= flushAt || batch.length >= 200) {
          yield TailLogsResponse.fromPartial({ lines: batch, redactions: batchRedactions });
          batch = [];
          batchRedactions = 0;
          flushAt = Date.now() + 250;
        }
      }
      if (batch.length) yield TailLogsResponse.fromPartial({ lines: batch, redactions: batchRedactions });
    },

    searchLogs: async function* (req, ctx) {
      const plan: SearchPlan = {
        matcher: compileQuery(req.query, req.regex, req.caseSensitive),
        query: query(req.streams, req.since, req.until, req.window),
        levels: new Set<LogLevel>(req.levels.filter((l) => l !== LogLevel.LOG_LEVEL_UNSPECIFIED)),
        context: Math.min(req.contextLines, 10),
        maxMatches: req.maxMatches || 100,
        // The time budget leaves room to answer before the caller's deadline.
        budgetEnd: Math.min(Date.now() + 55_000, (ctx.deadline?.getTime() ?? Infinity) - 1500),
      };
      const all = await backend.containers(true, ctx.signal);
      const targets: ContainerInfo[] = req.containers.length ? req.containers.map((r) => findContainer(all, r)) : all;
      let total = 0;
      let searched = 0;
      let stopped = '';
      for (const c of targets) {
        if (stopped) break;
        const name = toContainer(c).name;
        const found = await searchContainer(backend, c, name, plan, total, ctx.signal);
        total += found.matches.length;
        stopped = found.stopped;
        searched++;
        const msg: SearchLogsResponse = {
          matches: found.matches,
          matchesPerContainer: { [name]: String(found.matches.length) },
          linesScanned: { [name]: String(found.scanned) },
          containersSearched: searched,
          containersTotal: targets.length,
          limitReached: Boolean(stopped),
          stoppedReason: stopped,
          done: false,
        };
        yield msg;
        yield update({ progress: { done: searched, total: targets.length, message: `searched ${name}: ${found.matches.length} match${found.matches.length === 1 ? '' : 'es'} in ${found.scanned} lines` } });
        if (found.matches.length) yield update({ log: { level: LogSeverity.LOG_SEVERITY_INFO, message: `${name}: ${found.matches.length} match${found.matches.length === 1 ? '' : 'es'}` } });
      }
      if (stopped) yield update({ log: { level: LogSeverity.LOG_SEVERITY_WARNING, message: `search stopped after ${searched} of ${targets.length} containers: ${stopped}` } });
      yield { matches: [], matchesPerContainer: {}, linesScanned: {}, containersSearched: searched, containersTotal: targets.length, limitReached: Boolean(stopped), stoppedReason: stopped, done: true };
    },

    getContainerStats: async (req, ctx) => {
      const sampled = req.window ? await sampleWindow(backend, req.container, msOf(req.window), ctx) : undefined;
      const targets = req.container ? [await resolveContainer(backend, req.container, ctx.signal)] : await backend.containers(false, ctx.signal);
      const stats = await Promise.all(
        targets.map(async (c) => {
          const s = c.state === 'running' ? await backend.stats(c, ctx.signal) : undefined;
          const uptimeMs = c.state === 'running' && c.startedAt ? Date.now() - c.startedAt.getTime() : 0;
          return ContainerStats.fromPartial({
            container: toContainer(c),
            cpuPercent: s?.cpuPercent ?? 0,
            memoryUsageBytes: String(Math.round(s?.memoryUsage ?? 0)),
            memoryLimitBytes: String(Math.round(s?.memoryLimit ?? 0)),
            memoryPercent: s && s.memoryLimit > 0 ? (s.memoryUsage / s.memoryLimit) * 100 : 0,
            networkRxBytes: String(s?.networkRx ?? 0),
            networkTxBytes: String(s?.networkTx ?? 0),
            blockReadBytes: String(s?.blockRead ?? 0),
            blockWriteBytes: String(s?.blockWrite ?? 0),
            pids: s?.pids ?? 0,
            restartCount: c.restartCount,
            uptime: fromMs(Math.floor(uptimeMs / 1000) * 1000),
            exitCode: c.exitCode,
            ...(c.finishedAt ? { finishedAt: fromMs(Math.floor(c.finishedAt.getTime() / 1000) * 1000) } : {}),
          });
        }),
      );
      const key = SORTS[req.sortBy];
      stats.sort(key ? (a, b) => key(b) - key(a) : (a, b) => (a.container?.name ?? '').localeCompare(b.container?.name ?? ''));
      return GetContainerStatsResponse.fromPartial({ stats: req.limit ? stats.slice(0, req.limit) : stats, ...sampled });
    },
  };
}
