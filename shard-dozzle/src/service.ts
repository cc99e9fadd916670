import type { Logger } from 'pino';
import { ShardError, type ShardHandlers } from '@homelab-mcp/shard-kit';
import {
  ContainerStats,
  GetContainerStatsResponse,
  LogLevel,
  StatsSort,
  StreamSelection,
  TailLogsResponse,
  type LogLine,
  type LogMatch,
  type SearchLogsResponse,
  type WatchmanServiceService,
} from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { findContainer, resolveContainer, toContainer } from './containers.js';
import { compileQuery, matchLine } from './line-matcher.js';
import { createSurfaceHandlers } from './surface.js';
import { cleanLine, toLogLine } from './lines.js';
import type { ContainerInfo, LogBackend, LogQuery } from './upstream/backend.js';

type Ts = { seconds: string; nanos: number } | undefined;
type Dur = { seconds: string; nanos: number } | undefined;

const toDate = (t: Ts) => (t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : undefined);
const toMs = (d: Dur) => (d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0);

function query(streams: StreamSelection, since: Ts, until: Ts, window: Dur): LogQuery {
  const s = toDate(since) ?? (toMs(window) > 0 ? new Date(Date.now() - toMs(window)) : undefined);
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
      const until = Date.now() + Math.min(toMs(req.followFor) || 30_000, 300_000);
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
      const matcher = compileQuery(req.query, req.regex, req.caseSensitive);
      const q = query(req.streams, req.since, req.until, req.window);
      const max = req.maxMatches || 100;
      const context = Math.min(req.contextLines, 10);
      const levels = new Set<LogLevel>(req.levels.filter((l) => l !== LogLevel.LOG_LEVEL_UNSPECIFIED));
      const all = await backend.containers(true, ctx.signal);
      const targets: ContainerInfo[] = req.containers.length ? req.containers.map((r) => findContainer(all, r)) : all;
      // The time budget leaves room to answer before the caller's deadline.
      const budgetEnd = Math.min(Date.now() + 55_000, (ctx.deadline?.getTime() ?? Infinity) - 1500);
      let total = 0;
      let searched = 0;
      let stopped = '';
      for (const c of targets) {
        if (stopped) break;
        const name = toContainer(c).name;
        const found: LogMatch[] = [];
        const before: LogLine[] = [];
        const open: { m: LogMatch; left: number }[] = [];
        let count = 0;
        let scanned = 0;
        scan: for await (const batch of backend.logs(c, q, ctx.signal)) {
          if (Date.now() > budgetEnd) {
            stopped = `stopped after the time budget while searching ${name}; narrow the time range or the containers`;
            break;
          }
          for (const raw of batch) {
            scanned++;
            const matched = matchLine(raw, matcher, c.secrets);
            const hit = Boolean(matched);
            if (!hit && !context && !open.length) continue;
            const line = toLogLine(raw, matched ?? cleanLine(raw.text, c.secrets));
            for (const o of open) {
              o.m.after.push(line);
              o.left--;
            }
            while (open.length && (open[0]?.left ?? 0) <= 0) open.shift();
            if (hit && (!levels.size || levels.has(line.level))) {
              count++;
              total++;
              const m: LogMatch = { container: name, line, before: [...before], after: [] };
              found.push(m);
              if (context) open.push({ m, left: context });
              if (total >= max) {
                stopped = `stopped at ${max} matches (max_matches); raise it or narrow the search`;
                break scan;
              }
            }
            if (context) {
              before.push(line);
              if (before.length > context) before.shift();
            }
          }
        }
        searched++;
        const msg: SearchLogsResponse = {
          matches: found,
          matchesPerContainer: { [name]: String(count) },
          linesScanned: { [name]: String(scanned) },
          containersSearched: searched,
          containersTotal: targets.length,
          limitReached: Boolean(stopped),
          stoppedReason: stopped,
          done: false,
        };
        yield msg;
      }
      yield { matches: [], matchesPerContainer: {}, linesScanned: {}, containersSearched: searched, containersTotal: targets.length, limitReached: Boolean(stopped), stoppedReason: stopped, done: true };
    },

    getContainerStats: async (req, ctx) => {
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
            uptime: { seconds: String(Math.floor(uptimeMs / 1000)), nanos: 0 },
            exitCode: c.exitCode,
            ...(c.finishedAt ? { finishedAt: { seconds: String(Math.floor(c.finishedAt.getTime() / 1000)), nanos: 0 } } : {}),
          });
        }),
      );
      const key = SORTS[req.sortBy];
      stats.sort(key ? (a, b) => key(b) - key(a) : (a, b) => (a.container?.name ?? '').localeCompare(b.container?.name ?? ''));
      return GetContainerStatsResponse.fromPartial({ stats: req.limit ? stats.slice(0, req.limit) : stats });
    },
  };
}
