import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cpuMeter, type PathProcess } from './cpu.js';

export interface Target {
  /** Row label, e.g. "gateway -> shard". */
  label: string;
  url: string;
  headers?: Record<string, string>;
  tool: string;
  args: Record<string, unknown>;
  /** The processes that serve its calls, whose CPU time is measured per call (the client's always is). */
  processes?: () => PathProcess[];
  /** Requests and connections the upstream (the Traefik stand-in) has served so far, to count them per call. */
  upstreamTraffic?: () => Promise<{ requests: number; connections: number }>;
}

export interface LoadOptions {
  clients: number;
  /** Calls per client after warm-up. */
  callsPerClient: number;
  warmupCalls: number;
  /** Stop early after this long, whatever the count. */
  maxMs: number;
}

export interface LoadResult {
  label: string;
  clients: number;
  calls: number;
  errors: number;
  seconds: number;
  callsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time per call, in ms, by the role of the process (client, gateway, shard, ...). */
  cpuMsPerCall: Record<string, number>;
  /** Upstream HTTP requests, and new upstream connections, per tool call (NaN when not counted). */
  upstreamRequestsPerCall: number;
  upstreamConnectionsPerCall: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

async function connect(target: Target): Promise<Client> {
  const client = new Client({ name: 'homelab-mcp-bench', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(target.url), {
    requestInit: { headers: target.headers ?? {} },
  });
  await client.connect(transport);
  return client;
}

interface RawLoad {
  latencies: number[];
  errors: number;
  seconds: number;
  cpuMs: Record<string, number>;
  upstream: { requests: number; connections: number };
}

const NO_TRAFFIC = async () => ({ requests: Number.NaN, connections: Number.NaN });

/** `clients` MCP clients in parallel, each calling the tool in a loop; the latencies of the calls after warm-up. */
async function measure(target: Target, opts: LoadOptions): Promise<RawLoad> {
  const clients = await Promise.all(Array.from({ length: opts.clients }, () => connect(target)));
  const call = async (c: Client): Promise<boolean> => {
    const res = await c.callTool({ name: target.tool, arguments: target.args });
    return res.isError !== true;
  };
  try {
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < opts.warmupCalls; i++) await call(c);
    }));
    const latencies: number[] = [];
    let errors = 0;
    const traffic = target.upstreamTraffic ?? NO_TRAFFIC;
    const upstream0 = await traffic();
    const meter = cpuMeter(target.processes?.() ?? []);
    const started = performance.now();
    const deadline = started + opts.maxMs;
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < opts.callsPerClient && performance.now() < deadline; i++) {
        const t0 = performance.now();
        let ok = false;
        try { ok = await call(c); } catch { ok = false; }
        latencies.push(performance.now() - t0);
        if (!ok) errors++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = meter.stop();
    const upstream1 = await traffic();
    return { latencies, errors, seconds, cpuMs, upstream: { requests: upstream1.requests - upstream0.requests, connections: upstream1.connections - upstream0.connections } };
  } finally {
    // Like a well-behaved client, end the session (DELETE) so no server keeps it until it evicts idle ones.
    await Promise.all(clients.map(async (c) => {
      await (c.transport as StreamableHTTPClientTransport | undefined)?.terminateSession().catch(() => undefined);
      await c.close().catch(() => undefined);
    }));
  }
}

function summarize(label: string, clients: number, runs: RawLoad[]): LoadResult {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const cpuMsPerCall: Record<string, number> = {};
  for (const r of runs) for (const [role, ms] of Object.entries(r.cpuMs)) cpuMsPerCall[role] = (cpuMsPerCall[role] ?? 0) + ms / latencies.length;
  return {
    label,
    clients,
    calls: latencies.length,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    seconds,
    callsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    cpuMsPerCall,
    upstreamRequestsPerCall: runs.reduce((n, r) => n + r.upstream.requests, 0) / latencies.length,
    upstreamConnectionsPerCall: runs.reduce((n, r) => n + r.upstream.connections, 0) / latencies.length,
  };
}

/**
 * The same load on several targets, taken in `rounds` turns that rotate their
 * order (A B C, B C A, ...), so a machine that is slower for a while (noisy
 * neighbours, a GC storm elsewhere) weighs on every target alike rather than
 * on whichever ran then. Each round makes `callsPerClient / rounds` calls per client.
 */
export async function runInterleaved(targets: Target[], opts: LoadOptions, rounds: number, progress: (msg: string) => void = () => undefined): Promise<LoadResult[]> {
  const raw = new Map<string, RawLoad[]>(targets.map((t) => [t.label, []]));
  const perRound = { ...opts, callsPerClient: Math.max(1, Math.ceil(opts.callsPerClient / rounds)), maxMs: opts.maxMs / rounds };
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + r) % targets.length] as Target;
      progress(`${opts.clients} client${opts.clients === 1 ? '' : 's'}: round ${r + 1}/${rounds}, ${t.label} (turn ${r * targets.length + i + 1}/${rounds * targets.length})`);
      raw.get(t.label)?.push(await measure(t, perRound));
    }
  }
  return targets.map((t) => summarize(t.label, opts.clients, raw.get(t.label) ?? []));
}

export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((v) => (typeof v === 'number' ? formatNumber(v) : v)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]): string => r.map((v, i) => String(v).padEnd(widths[i] ?? 0)).join('  ');
  return [line(cells[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
