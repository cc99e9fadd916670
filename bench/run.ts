import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { pino } from 'pino';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadCliConfig } from '@homelab-mcp/cli/config.js';
import { startAll, type Started } from '@homelab-mcp/cli/start.js';
import { startComponent } from '@homelab-mcp/cli/supervisor.js';
import { formatTable, runInterleaved, type LoadResult, type Target } from './lib/load.js';
import { peakRssMiB, rssMiB, sampleRss } from './lib/rss.js';
import type { PathProcess } from './lib/cpu.js';
import { startPeers, type Peers } from './lib/peers.js';
import { benchSearchLogs } from './lib/search-logs.js';

export interface BenchOptions {
  short: boolean;
  /** Where the tables go (default stdout). */
  out?: NodeJS.WritableStream;
}

interface Section {
  title: string;
  table: string;
  json: unknown;
}

const quiet = pino({ level: 'error' });

// The SDK's HTTP client transport adds an abort listener to one long-lived signal per
// request; a soak of thousands of calls would print a listener warning per call.
setMaxListeners(0);

function devNull(): NodeJS.WritableStream {
  return { write: () => true } as unknown as NodeJS.WritableStream;
}

async function connect(url: string, token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: token ? { authorization: `Bearer ${token}` } : {} } }));
  return client;
}

/** A running component by name (after a restart in the discovery section, the new process). */
const componentNamed = (started: Started, name: string) => started.components.find((c) => c.spec.name === name);

const sumValues = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * Where the CPU goes, per call, on each path: on a machine where all the
 * processes share the cores, calls/s cannot exceed cores / (CPU per call), so
 * this shows what any ratio between the paths can be at best.
 */
function cpuBreakdown(at50: LoadResult[], gatewayLabel: string, proxyLabel: string): string {
  const cores = availableParallelism();
  const lines = at50.map((r) => {
    const parts = Object.entries(r.cpuMsPerCall).map(([role, ms]) => `${role} ${ms.toFixed(2)}`).join(' + ');
    const total = sumValues(r.cpuMsPerCall);
    return `  ${r.label.padEnd(18)} ${parts} = ${total.toFixed(2)} ms (at most ${((cores * 1000) / total).toFixed(0)} calls/s on ${cores} cores)`;
  });
  const g = at50.find((r) => r.label === gatewayLabel);
  const p = at50.find((r) => r.label === proxyLabel);
  if (g && p) {
    const budget = sumValues(p.cpuMsPerCall) / 1.2;
    const { gateway: own = 0, ...rest } = g.cpuMsPerCall;
    lines.push(`  1.2x mcp-proxy leaves the gateway's path ${budget.toFixed(2)} ms per call; without the gateway process it uses ${sumValues(rest).toFixed(2)} ms, the gateway ${own.toFixed(2)} ms`);
  }
  return `CPU per call at 50 clients (client, servers and stand-ins share the machine):\n${lines.join('\n')}`;
}

/** tools/call throughput and latency: gateway -> shard next to a direct server and mcp-proxy. */
async function benchThroughput(gateway: Target, peers: Peers, short: boolean): Promise<Section> {
  const results: LoadResult[] = [];
  for (const clients of [1, 50]) {
    const opts = short
      ? { clients, callsPerClient: clients === 1 ? 100 : 10, warmupCalls: 5, maxMs: 10_000 }
      : { clients, callsPerClient: clients === 1 ? 3000 : 200, warmupCalls: 50, maxMs: 60_000 };
    // Interleaved turns: on a noisy machine a slow spell then hits every server alike.
    results.push(...(await runInterleaved([gateway, peers.direct, peers.proxy], opts, short ? 2 : 5)));
  }
  const rows = results.map((r) => {
    const direct = results.find((x) => x.clients === r.clients && x.label === peers.direct.label);
    const proxy = results.find((x) => x.clients === r.clients && x.label === peers.proxy.label);
    return [r.label, r.clients, r.calls, r.errors, r.callsPerSecond, r.p50Ms, r.p99Ms,
      direct ? r.callsPerSecond / direct.callsPerSecond : NaN, proxy ? r.callsPerSecond / proxy.callsPerSecond : NaN];
  });
  const at = (label: string, c: number) => results.find((x) => x.label === label && x.clients === c);
  const g1 = at(gateway.label, 1);
  const d1 = at(peers.direct.label, 1);
  const summary = {
    ratioToDirectAt50: (at(gateway.label, 50)?.callsPerSecond ?? NaN) / (at(peers.direct.label, 50)?.callsPerSecond ?? NaN),
    ratioToProxyAt50: (at(gateway.label, 50)?.callsPerSecond ?? NaN) / (at(peers.proxy.label, 50)?.callsPerSecond ?? NaN),
    addedP99MsAt1: (g1?.p99Ms ?? NaN) - (d1?.p99Ms ?? NaN),
    // For context: on a noisy machine p99 is mostly scheduling; p50 shows the hop itself.
    addedP50MsAt1: (g1?.p50Ms ?? NaN) - (d1?.p50Ms ?? NaN),
    targets: { ratioToDirectAt50: '>= 0.8', ratioToProxyAt50: '>= 1.2', addedP99MsAt1: '<= 2' },
  };
  const table = formatTable(['server', 'clients', 'calls', 'errors', 'calls/s', 'p50 ms', 'p99 ms', 'vs direct', 'vs mcp-proxy'], rows) +
    `\n\ngateway/direct at 50 clients: ${summary.ratioToDirectAt50.toFixed(2)} (target >= 0.8); gateway/mcp-proxy at 50: ${summary.ratioToProxyAt50.toFixed(2)} (target >= 1.2); added p99 at 1 client: ${summary.addedP99MsAt1.toFixed(2)} ms (target <= 2; added p50 ${summary.addedP50MsAt1.toFixed(2)} ms)` +
    `\n\n${cpuBreakdown(results.filter((r) => r.clients === 50), gateway.label, peers.proxy.label)}`;
  return { title: `tools/call ${gateway.tool}`, table, json: { results, summary } };
}

/**
 * diagnose_service latency: a healthy service (every check runs to the end)
 * and two broken ones, at one client and at ten.
 */
async function benchDiagnose(gateway: Target, short: boolean): Promise<Section> {
  const results: LoadResult[] = [];
  for (const clients of [1, 10]) {
    const opts = short
      ? { clients, callsPerClient: clients === 1 ? 20 : 4, warmupCalls: 2, maxMs: 10_000 }
      : { clients, callsPerClient: clients === 1 ? 300 : 60, warmupCalls: 10, maxMs: 60_000 };
    const targets = DIAGNOSED.map((service) => ({ ...gateway, label: service, tool: 'diagnose_service', args: { service } }));
    results.push(...(await runInterleaved(targets, opts, short ? 1 : 3)));
  }
  const rows = results.map((r) => [r.label, r.clients, r.calls, r.errors, r.callsPerSecond, r.p50Ms, r.p99Ms, sumValues(r.cpuMsPerCall)]);
  const table = formatTable(['service', 'clients', 'calls', 'errors', 'calls/s', 'p50 ms', 'p99 ms', 'CPU ms/call'], rows) +
    '\n\nCPU per call: the client, the gateway, the three shards and the stand-ins together.';
  return { title: 'diagnose_service', table, json: { results } };
}

/** What diagnose_service is timed on: healthy; no router for the host; forwardAuth to a missing Authentik application. */
const DIAGNOSED = ['whoami', 'nothing.home.lan', 'jellyfin'];

/** 100k calls (short: 2k) through a stateful session and stateless, sampling the gateway's RSS. */
async function benchSoak(started: Started, gateway: Target, short: boolean): Promise<Section> {
  const stateful = componentNamed(started, 'gateway');
  if (!stateful) return { title: 'soak', table: 'skipped: no gateway', json: null };
  // A second gateway on the same shards, stateless (one server per request), for the other mode.
  const stateless = await startComponent(
    {
      ...stateful.spec,
      name: 'gateway-stateless',
      env: { ...stateful.spec.env, GATEWAY_STATELESS: '1', GATEWAY_LISTEN: '127.0.0.1:0', GATEWAY_DATA_DIR: `${stateful.spec.env.GATEWAY_DATA_DIR ?? ''}-stateless` },
    },
    quiet,
  );
  const calls = short ? 2000 : 100_000;
  const rows: (string | number)[][] = [];
  const json: unknown[] = [];
  const token = gateway.headers?.authorization?.slice(7);
  try {
    for (const [mode, component] of [['stateful session', stateful], ['stateless', stateless]] as const) {
      const pid = component.child.pid ?? 0;
      const client = await connect(component.endpoints.mcp ?? gateway.url, token);
      try {
        const sampler = sampleRss(pid, 500);
        const before = rssMiB(pid);
        const t0 = performance.now();
        const warm = Math.floor(calls / 10);
        let afterWarm = before;
        for (let i = 0; i < calls; i++) {
          await client.callTool({ name: gateway.tool, arguments: gateway.args });
          if (i === warm) afterWarm = rssMiB(pid);
        }
        const samples = sampler.stop();
        const after = rssMiB(pid);
        const seconds = (performance.now() - t0) / 1000;
        rows.push([mode, calls, calls / seconds, before, afterWarm, after, after - afterWarm, Math.max(...samples)]);
        json.push({ mode, calls, callsPerSecond: calls / seconds, rssBeforeMiB: before, rssAfterWarmupMiB: afterWarm, rssAfterMiB: after, growthAfterWarmupMiB: after - afterWarm, samples });
      } finally {
        await client.close();
      }
    }
  } finally {
    stateless.child.kill('SIGTERM');
    await stateless.exited;
  }
  return {
    title: `soak: ${calls} calls, gateway RSS (target: no growth beyond warm-up)`,
    table: formatTable(['mode', 'calls', 'calls/s', 'RSS start MiB', 'after warm-up', 'end', 'growth', 'peak'], rows),
    json,
  };
}

/** Time from a shard's death (and return) to tools/list_changed at a client. */
async function benchDiscovery(started: Started, gateway: Target, short: boolean): Promise<Section> {
  const rounds = short ? 1 : 5;
  const shard = componentNamed(started, 'shard-dozzle');
  if (!shard) return { title: 'discovery', table: 'skipped: no shard-dozzle', json: null };
  const client = await connect(gateway.url, gateway.headers?.authorization?.slice(7));
  const downMs: number[] = [];
  const upMs: number[] = [];
  const servingToListedMs: number[] = [];
  let current = shard;
  try {
    for (let i = 0; i < rounds; i++) {
      const changed = () => new Promise<number>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve(performance.now())));
      let wait = changed();
      const t0 = performance.now();
      current.child.kill('SIGKILL');
      await current.exited;
      downMs.push((await wait) - t0);
      wait = changed();
      const t1 = performance.now();
      current = await startComponent({ ...current.spec, env: { ...current.spec.env, SHARD_LISTEN: current.endpoints.grpc ?? '' } }, quiet);
      // The shard reports ready once it serves; from then on the time is the gateway's.
      const serving = performance.now();
      const listed = await wait;
      upMs.push(listed - t1);
      servingToListedMs.push(Math.max(0, listed - serving));
    }
  } finally {
    const idx = started.components.indexOf(shard);
    if (idx >= 0) started.components[idx] = current;
    await client.close();
  }
  const stats = (xs: number[]) => [Math.min(...xs), xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN, Math.max(...xs)];
  return {
    title: 'discovery: shard killed / back -> tools/list_changed at the client (target <= 1000 ms)',
    table: formatTable(['event', 'rounds', 'min ms', 'median ms', 'max ms'], [
      ['shard killed', rounds, ...stats(downMs)],
      ['shard back, from serving', rounds, ...stats(servingToListedMs)],
      ['shard back, from process start', rounds, ...stats(upMs)],
    ]) + '\n\n"From serving": from the moment the restarted shard reports it serves (what the target is about); "from process start" adds the time Node takes to start the shard.',
    json: { downMs, upMs, servingToListedMs },
  };
}

/** The load comes from one bench client (one subject, 50 sessions): the per-subject limits would measure themselves, so they are off. */
const BENCH_GATEWAY_ENV = { GATEWAY_RATE_LIMIT_PER_MINUTE: '0', GATEWAY_MAX_INFLIGHT_PER_SUBJECT: '0', GATEWAY_MAX_SESSIONS_PER_SUBJECT: '0' };

/** `npm run bench`: every section in one run, a table each, and one JSON file. */
export async function runBench(opts: BenchOptions): Promise<number> {
  const home = await mkdtemp(join(tmpdir(), 'homelab-mcp-bench-'));
  const cfg = loadCliConfig({
    HOMELAB_MCP_HOME: home,
    HOMELAB_MCP_GATEWAY_PORT: '0',
    HOMELAB_MCP_SHARD_TRAEFIK_PORT: '0',
    HOMELAB_MCP_SHARD_DOZZLE_PORT: '0',
    HOMELAB_MCP_SHARD_AUTHENTIK_PORT: '0',
    HOMELAB_MCP_LOG_LEVEL: 'error',
  });
  const out = opts.out ?? process.stdout;
  out.write(`homelab-mcp bench (${opts.short ? 'short' : 'full'} run), node ${process.version}; per-subject request limits off\n`);
  const started = await startAll(cfg, quiet, { only: new Set(['sim', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'gateway']), env: BENCH_GATEWAY_ENV, out: devNull() });
  const pidOf = (name: string) => componentNamed(started, name)?.child.pid ?? 0;
  const gatewayProcess = (): PathProcess => ({ role: 'gateway', pid: pidOf('gateway') });
  const standIns = (): PathProcess[] => started.components.filter((c) => c.spec.name.startsWith('sim-')).map((c) => ({ role: 'stand-ins', pid: c.child.pid ?? 0 }));
  const peers = await startPeers(started.state.upstreams, quiet, standIns());
  const sections: Section[] = [];
  try {
    const token = (await import('node:fs')).readFileSync(started.state.tokenFile ?? '', 'utf8').trim();
    const gateway: Target = {
      label: 'gateway -> shard',
      url: started.state.mcpUrl ?? '',
      headers: { authorization: `Bearer ${token}` },
      tool: 'get_routes',
      args: { host: 'whoami.home.lan' },
      processes: () => [gatewayProcess(), { role: 'shard', pid: pidOf('shard-traefik') }, ...standIns()],
    };
    const run = async (fn: () => Promise<Section>) => {
      const s = await fn();
      sections.push(s);
      out.write(`\n## ${s.title}\n${s.table}\n`);
    };
    await run(() => benchThroughput(gateway, peers, opts.short));
    const allShards = (): PathProcess[] => ['shard-traefik', 'shard-dozzle', 'shard-authentik'].map((name) => ({ role: name, pid: pidOf(name) }));
    await run(() => benchDiagnose({ ...gateway, processes: () => [gatewayProcess(), ...allShards(), ...standIns()] }, opts.short));
    await run(() => benchSoak(started, gateway, opts.short));
    await run(() => benchDiscovery(started, gateway, opts.short));
    await run(() => benchSearchLogs(opts.short, componentNamed(started, 'shard-dozzle')?.spec.entry ?? '', quiet));
    const rss = started.components.map((c) => [c.spec.name, c.child.pid ? rssMiB(c.child.pid) : NaN, c.child.pid ? peakRssMiB(c.child.pid) : NaN]);
    await run(async () => ({ title: 'RSS after the run', table: formatTable(['process', 'RSS MiB', 'peak MiB'], rss), json: rss }));
    const dir = join(process.cwd(), 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify({ short: opts.short, node: process.version, sections }, null, 2)}\n`);
    out.write(`\nresults: ${file}\n`);
    return 0;
  } finally {
    await peers.close();
    await started.stop();
    await rm(home, { recursive: true, force: true });
  }
}
