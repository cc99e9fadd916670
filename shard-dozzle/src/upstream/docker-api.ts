import Docker from 'dockerode';
import { findSecrets, type KnownSecrets } from '@homelab-mcp/hygiene';
import type { ShardError} from '@homelab-mcp/shard-kit';
import { HttpStatusError, upstreamError } from '@homelab-mcp/shard-kit';
import type { ContainerInfo, LogBackend, LogQuery, RawLine, StatsSample } from './backend.js';
import { dockerLogLines } from './line-streams.js';

const WHAT = 'Docker API (socket proxy)';

function wrap(err: unknown): ShardError {
  const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
  if (typeof e?.statusCode === 'number') return upstreamError(new HttpStatusError(e.statusCode, e.json?.message ?? e.message ?? '', WHAT), WHAT);
  return upstreamError(err, WHAT);
}

function date(s: string | undefined): Date | undefined {
  if (!s || s.startsWith('0001-')) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * A request's own signal, aborting with the call's. A call that fans out (an
 * inspect or a stats read per container) would otherwise put an abort
 * listener per request on the call's one signal, and past ten Node warns of
 * a leak; AbortSignal.any follows its source without a listener on it.
 */
const forRequest = (signal: AbortSignal): AbortSignal => AbortSignal.any([signal]);

const words = (v: string | string[] | undefined | null): string => (Array.isArray(v) ? v.join(' ') : (v ?? ''));

/**
 * What an inspected container holds that must never show: environment values
 * and labels whose name says secret, and what the patterns find in them, its
 * command line and its healthcheck command.
 */
function secretsOf(i: Docker.ContainerInspectInfo): KnownSecrets | undefined {
  const env = (i.Config.Env ?? []).map((e): [string, string] => {
    const eq = e.indexOf('=');
    return eq < 0 ? [e, ''] : [e.slice(0, eq), e.slice(eq + 1)];
  });
  const labels = Object.entries(i.Config.Labels ?? {});
  return findSecrets([...env, ...labels], [words([i.Path, ...(i.Args ?? [])]), words(i.Config.Entrypoint), words(i.Config.Cmd), words(i.Config.Healthcheck?.Test)]);
}

/** A line with Docker's RFC 3339 timestamp prefix (timestamps=1). */
function parseLine(stream: RawLine['stream'], line: string): RawLine {
  const sp = line.indexOf(' ');
  const t = sp > 0 ? new Date(line.slice(0, sp)) : new Date(NaN);
  return Number.isNaN(t.getTime()) ? { time: new Date(), stream, text: line } : { time: t, stream, text: line.slice(sp + 1) };
}

/**
 * The Docker Engine API through a GET-only socket proxy (tcp://proxy:2375):
 * list, inspect, logs in both framings (multiplexed without a TTY, raw with
 * one) and one-shot stats. Never a unix socket: the proxy is the guard.
 */
export class DockerApi implements LogBackend {
  private readonly docker: Docker;

  constructor(private readonly hostUrl: string) {
    const u = new URL(hostUrl.replace(/^tcp:/, 'http:'));
    this.docker = new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: 'http' });
  }

  get description(): string {
    return `${WHAT} at ${this.hostUrl}`;
  }

  async ping(signal: AbortSignal): Promise<void> {
    // GET /_ping; the modem has no abort for it, the probe's own timeout bounds it.
    void signal;
    await this.docker.ping().catch((e: unknown) => {
      throw wrap(e);
    });
  }

  async containers(all: boolean, signal: AbortSignal): Promise<ContainerInfo[]> {
    const list = await this.docker.listContainers({ all, abortSignal: signal }).catch((e: unknown) => {
      throw wrap(e);
    });
    return Promise.all(list.map((c) => this.inspect(c.Id, signal)));
  }

  private async inspect(id: string, signal: AbortSignal): Promise<ContainerInfo> {
    const i = await this.docker.getContainer(id).inspect({ abortSignal: forRequest(signal) } as Docker.ContainerInspectOptions).catch((e: unknown) => {
      throw wrap(e);
    });
    return {
      id: i.Id,
      name: i.Name.replace(/^\//, ''),
      image: i.Config.Image,
      state: i.State.Status,
      status: i.State.Status,
      health: i.State.Health?.Status ?? '',
      ...(date(i.Created) ? { createdAt: date(i.Created) } : {}),
      ...(date(i.State.StartedAt) ? { startedAt: date(i.State.StartedAt) } : {}),
      ...(date(i.State.FinishedAt) ? { finishedAt: date(i.State.FinishedAt) } : {}),
      labels: i.Config.Labels ?? {},
      host: 'local',
      tty: Boolean(i.Config.Tty),
      restartCount: i.RestartCount ?? 0,
      exposedPorts: Object.keys(i.Config.ExposedPorts ?? {}).map((p) => Number.parseInt(p, 10)).filter((p) => Number.isInteger(p)),
      exitCode: i.State.ExitCode ?? 0,
      secrets: secretsOf(i),
    };
  }

  private async *stream(c: ContainerInfo, q: LogQuery, follow: boolean, signal: AbortSignal): AsyncIterable<RawLine[]> {
    const options = {
      follow: follow,
      stdout: q.stdout,
      stderr: q.stderr,
      timestamps: true,
      ...(q.since ? { since: Math.floor(q.since.getTime() / 1000) } : {}),
      ...(q.until ? { until: Math.ceil(q.until.getTime() / 1000) + 1 } : {}),
      ...(q.tail !== undefined ? { tail: q.tail } : {}),
    };
    // The modem's raw stream (dockerode's logs() would buffer a whole non-follow log in memory,
    // and the modem's demuxStream ignores backpressure): read it one chunk at a time instead.
    const raw = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
      this.docker.modem.dial(
        { path: `/containers/${encodeURIComponent(c.id)}/logs?`, method: 'GET', options, isStream: true, abortSignal: signal, statusCodes: { 200: true, 404: 'no such container', 500: 'server error' } } as never,
        (err: unknown, stream: unknown) => (err ? reject(wrap(err)) : resolve(stream as NodeJS.ReadableStream)),
      );
    });
    // A follow waits on the socket; an abort (caller gone, follow_for over) closes it.
    const close = () => (raw as unknown as { destroy?: () => void }).destroy?.();
    signal.addEventListener('abort', close, { once: true });
    try {
      for await (const batch of dockerLogLines(raw as AsyncIterable<Buffer>, c.tty)) {
        const lines = batch.map(([stream, text]) => parseLine(stream, text));
        const until = q.until;
        yield until ? lines.filter((l) => l.time < until) : lines;
      }
    } catch (e) {
      if (!signal.aborted) throw wrap(e);
    } finally {
      signal.removeEventListener('abort', close);
      close();
    }
  }

  logs(c: ContainerInfo, q: LogQuery, signal: AbortSignal): AsyncIterable<RawLine[]> {
    return this.stream(c, q, false, signal);
  }

  follow(c: ContainerInfo, q: LogQuery, signal: AbortSignal): AsyncIterable<RawLine[]> {
    return this.stream(c, { ...q, tail: 0, since: new Date() }, true, signal);
  }

  async stats(c: ContainerInfo, signal: AbortSignal): Promise<StatsSample> {
    const s = await this.docker.getContainer(c.id).stats({ stream: false, abortSignal: forRequest(signal) } as { stream: false }).catch((e: unknown) => {
      throw wrap(e);
    });
    const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
    const cache = (s.memory_stats?.stats as Record<string, number> | undefined)?.inactive_file ?? 0;
    const nets = Object.values(s.networks ?? {});
    const blk = s.blkio_stats?.io_service_bytes_recursive ?? [];
    return {
      cpuPercent: sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
      memoryUsage: Math.max(0, (s.memory_stats?.usage ?? 0) - cache),
      memoryLimit: s.memory_stats?.limit ?? 0,
      networkRx: nets.reduce((n, x) => n + (x.rx_bytes ?? 0), 0),
      networkTx: nets.reduce((n, x) => n + (x.tx_bytes ?? 0), 0),
      blockRead: blk.filter((b) => /read/i.test(b.op)).reduce((n, b) => n + b.value, 0),
      blockWrite: blk.filter((b) => /write/i.test(b.op)).reduce((n, b) => n + b.value, 0),
      pids: s.pids_stats?.current ?? 0,
    };
  }
}
