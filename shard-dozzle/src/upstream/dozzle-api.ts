import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { HttpStatusError, upstreamError } from '@homelab-mcp/shard-kit';
import type { ContainerInfo, LogBackend, LogQuery, RawLine, StatsSample } from './backend.js';
import { textLines } from './line-streams.js';
import type { DozzleContainer as Container } from '@homelab-mcp/upstream-types/dozzle.js';

/** What the shard relies on: older Dozzle releases omit the labels, stats and some totals. */
type DozzleContainer = Omit<Container, 'labels' | 'stats'> & { labels?: Container['labels']; stats?: Partial<Container['stats'][number]>[] };

export type DozzleAuth = { provider: 'none' } | { provider: 'simple'; username: string; password: string } | { provider: 'forward-proxy'; user: string };

const WHAT = 'Dozzle API';

function date(s: string | undefined): Date | undefined {
  if (!s || s.startsWith('0001-')) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Reads containers, logs and stats through Dozzle's API (v10). */
export class DozzleApi implements LogBackend {
  private cookie: string | undefined;
  private snapshot: { at: number; containers: DozzleContainer[] } | undefined;

  constructor(
    private readonly base: string,
    private readonly auth: DozzleAuth = { provider: 'none' },
  ) {}

  get description(): string {
    return `${WHAT} at ${this.base}`;
  }

  private url(path: string): string {
    return `${this.base.replace(/\/$/, '')}${path}`;
  }

  private async headers(signal: AbortSignal): Promise<Record<string, string>> {
    if (this.auth.provider === 'forward-proxy') return { 'Remote-User': this.auth.user };
    if (this.auth.provider === 'simple') {
      if (!this.cookie) {
        const res = await fetch(this.url('/token'), { method: 'POST', body: new URLSearchParams({ username: this.auth.username, password: this.auth.password }), signal }).catch((e: unknown) => {
          throw upstreamError(e, WHAT);
        });
        if (!res.ok) throw upstreamError(new HttpStatusError(res.status, await res.text(), this.url('/token')), WHAT);
        this.cookie = /jwt=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
      }
      return this.cookie ? { Cookie: this.cookie } : {};
    }
    return {};
  }

  private async get(path: string, signal: AbortSignal, accept?: string): Promise<Response> {
    const url = this.url(path);
    let res: Response;
    try {
      res = await fetch(url, { headers: { ...(await this.headers(signal)), ...(accept ? { Accept: accept } : {}) }, signal });
    } catch (err) {
      throw upstreamError(err, WHAT);
    }
    if (res.status === 401 && this.auth.provider === 'simple') this.cookie = undefined;
    if (!res.ok) throw upstreamError(new HttpStatusError(res.status, await res.text(), url), WHAT);
    return res;
  }

  /** Server-sent events of a Dozzle stream, until the signal aborts or the stream ends. */
  private async *events(path: string, signal: AbortSignal): AsyncIterable<EventSourceMessage> {
    const res = await this.get(path, signal, 'text/event-stream');
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => queue.push(e) });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        while (queue.length) yield queue.shift() as EventSourceMessage;
      }
    } catch (err) {
      if (!signal.aborted) throw upstreamError(err, WHAT);
    }
  }

  private async list(signal: AbortSignal): Promise<DozzleContainer[]> {
    // Dozzle's only container list is the first containers-changed event of its event stream.
    if (this.snapshot && Date.now() - this.snapshot.at < 1000) return this.snapshot.containers;
    const ac = new AbortController();
    const both = AbortSignal.any([signal, ac.signal]);
    try {
      for await (const e of this.events('/events/stream', both)) {
        if (e.event === 'containers-changed') {
          this.snapshot = { at: Date.now(), containers: JSON.parse(e.data) as DozzleContainer[] };
          return this.snapshot.containers;
        }
      }
    } finally {
      ac.abort();
    }
    throw upstreamError(new Error('the event stream ended before listing containers'), WHAT);
  }

  async ping(signal: AbortSignal): Promise<void> {
    const res = await fetch(this.url('/').replace(/\/api\/?$/, '/healthcheck'), { signal }).catch((e: unknown) => {
      throw upstreamError(e, WHAT);
    });
    if (!res.ok) throw upstreamError(new HttpStatusError(res.status, '', 'healthcheck'), WHAT);
    await this.list(signal);
  }

  async containers(all: boolean, signal: AbortSignal): Promise<ContainerInfo[]> {
    return (await this.list(signal))
      .filter((c) => all || c.state === 'running')
      .map((c) => ({
        id: c.id,
        name: c.name,
        image: c.image,
        state: c.state,
        status: c.state,
        health: c.health ?? '',
        ...(date(c.created) ? { createdAt: date(c.created) } : {}),
        ...(date(c.startedAt) ? { startedAt: date(c.startedAt) } : {}),
        ...(date(c.finishedAt) ? { finishedAt: date(c.finishedAt) } : {}),
        labels: c.labels ?? {},
        host: c.host,
        tty: false,
        restartCount: 0,
        exitCode: 0,
      }));
  }

  private logPath(c: ContainerInfo, q: LogQuery, stream: boolean): string {
    const p = new URLSearchParams();
    if (q.stdout) p.set('stdout', '1');
    if (q.stderr) p.set('stderr', '1');
    if (!stream) {
      if (q.since || q.until) {
        p.set('from', (q.since ?? new Date(0)).toISOString());
        p.set('to', (q.until ?? new Date()).toISOString());
      } else p.set('everything', '');
    }
    return `/hosts/${encodeURIComponent(c.host)}/containers/${encodeURIComponent(c.id)}/logs${stream ? '/stream' : ''}?${p}`;
  }

  private toLine(json: string): RawLine | undefined {
    try {
      const e = JSON.parse(json) as { rm?: string; m?: unknown; ts: number; s?: string };
      const text = e.rm ?? (typeof e.m === 'string' ? e.m : JSON.stringify(e.m));
      return { time: new Date(e.ts), stream: e.s === 'stderr' ? 'stderr' : e.s === 'stdout' ? 'stdout' : 'unknown', text: text.replace(/\n$/, '') };
    } catch {
      return undefined;
    }
  }

  async *logs(c: ContainerInfo, q: LogQuery, signal: AbortSignal): AsyncIterable<RawLine[]> {
    const res = await this.get(this.logPath(c, q, false), signal, 'application/x-jsonl');
    const keep = (l: RawLine | undefined): l is RawLine => Boolean(l && (!q.since || l.time >= q.since) && (!q.until || l.time < q.until));
    try {
      for await (const batch of textLines(res.body as unknown as AsyncIterable<Uint8Array>)) yield batch.map((json) => this.toLine(json)).filter(keep);
    } catch (err) {
      if (!signal.aborted) throw upstreamError(err, WHAT);
    }
  }

  async *follow(c: ContainerInfo, q: LogQuery, signal: AbortSignal): AsyncIterable<RawLine[]> {
    for await (const e of this.events(this.logPath(c, q, true), signal)) {
      if (e.event) continue; // container-event, logs-backfill, search-status
      const l = this.toLine(e.data);
      if (l) yield [l];
    }
  }

  async stats(c: ContainerInfo, signal: AbortSignal): Promise<StatsSample> {
    const dc = (await this.list(signal)).find((x) => x.id === c.id);
    const s = dc?.stats?.at(-1);
    return {
      cpuPercent: s?.cpu ?? 0,
      memoryUsage: s?.memoryUsage ?? 0,
      memoryLimit: dc?.memoryLimit ?? 0,
      networkRx: s?.networkRxTotal ?? 0,
      networkTx: s?.networkTxTotal ?? 0,
      blockRead: s?.diskReadTotal ?? 0,
      blockWrite: s?.diskWriteTotal ?? 0,
      pids: 0,
    };
  }
}
