import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface Target {
  /** Row label, e.g. "gateway -> shard". */
  label: string;
  url: string;
  headers?: Record<string, string>;
  tool: string;
  args: Record<string, unknown>;
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

/**
 * Runs `clients` MCP clients in parallel, each calling the tool in a loop, and
 * reports throughput and latency percentiles of the measured (post warm-up) calls.
 */
export async function runLoad(target: Target, opts: LoadOptions): Promise<LoadResult> {
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
    latencies.sort((a, b) => a - b);
    return {
      label: target.label,
      clients: opts.clients,
      calls: latencies.length,
      errors,
      seconds,
      callsPerSecond: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
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
