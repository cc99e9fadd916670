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
import { anonRssMiB, peakRssMiB, rssMiB, sampleRss } from './lib/rss.js';
import type { PathProcess } from './lib/cpu.js';
import { startPeers, type Peers } from './lib/peers.js';
import { benchFanOut } from './lib/fan-out.js';
import { benchSearchLogs } from './lib/search-logs.js';
import { BENCH_LAUNCHER_ENV, benchStartup } from './lib/startup.js';

/** The sections, in the order a run takes them; `--only` names one or more of them. */
export const SECTIONS = ['startup', 'throughput', 'diagnose', 'soak', 'discovery', 'search-logs', 'fan-out', 'rss'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface BenchOptions {
  short: boolean;
  /** Run only these sections (default: all). */
  only?: ReadonlySet<SectionName>;
  /** Where the tables go (default stdout). */
  out?: NodeJS.WritableStream;
  /** Where progress goes, a line per step (default stderr). */
  progress?: NodeJS.WritableStream;
}

interface Section {
  name?: SectionName;
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
async function benchThroughput(gateway: Target, peers: Peers, short: boolean, progress: (msg: string) => void): Promise<Section> {
  const results: LoadResult[] = [];
  for (const clients of [1, 50]) {
    const opts = short
      ? { clients, callsPerClient: clients === 1 ? 100 : 10, warmupCalls: 5, maxMs: 10_000 }
      : { clients, callsPerClient: clients === 1 ? 3000 : 200, warmupCalls: 50, maxMs: 60_000 };
    // Interleaved turns: on a noisy machine a slow spell then hits every server alike.
    results.push(...(await runInterleaved([gateway, peers.direct, peers.proxy], opts, short ? 2 : 5, progress)));
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
  const p1 = at(peers.proxy.label, 1);
  const g50 = at(gateway.label, 50);
  const p50 = at(peers.proxy.label, 50);
  const summary = {
    ratioToDirectAt50: (g50?.callsPerSecond ?? NaN) / (at(peers.direct.label, 50)?.callsPerSecond ?? NaN),
    ratioToProxyAt50: (g50?.callsPerSecond ?? NaN) / (p50?.callsPerSecond ?? NaN),
    addedP99MsAt1: (g1?.p99Ms ?? NaN) - (d1?.p99Ms ?? NaN),
    // For context: on a noisy machine p99 is mostly scheduling; p50 shows the hop itself.
    addedP50MsAt1: (g1?.p50Ms ?? NaN) - (d1?.p50Ms ?? NaN),
    proxyAddedP50MsAt1: (p1?.p50Ms ?? NaN) - (d1?.p50Ms ?? NaN),
    proxyAddedP99MsAt1: (p1?.p99Ms ?? NaN) - (d1?.p99Ms ?? NaN),
    // The project's two processes against the peer's two, each on its own share of the same work.
    gatewayCpuToProxyCpu: (g50?.cpuMsPerCall.gateway ?? NaN) / (p50?.cpuMsPerCall['mcp-proxy'] ?? NaN),
    shardCpuToStdioServerCpu: (g50?.cpuMsPerCall.shard ?? NaN) / (p50?.cpuMsPerCall['stdio server'] ?? NaN),
    gatewayUpstreamRequestsPerCall: g50?.upstreamRequestsPerCall ?? NaN,
    proxyUpstreamRequestsPerCall: p50?.upstreamRequestsPerCall ?? NaN,
    targets: { ratioToDirectAt50: '>= 0.8', ratioToProxyAt50: '>= 1.2', addedP50MsAt1: '<= proxyAddedP50MsAt1', addedP99MsAt1: '<= 2 x addedP50MsAt1', gatewayCpuToProxyCpu: '<= 0.8', shardCpuToStdioServerCpu: '<= 1' },
  };
  const f = (n: number) => n.toFixed(2);
  const table = formatTable(['server', 'clients', 'calls', 'errors', 'calls/s', 'p50 ms', 'p99 ms', 'vs direct', 'vs mcp-proxy', 'upstream req/call', 'new conn/call'],
    rows.map((row, i) => [...row, results[i]?.upstreamRequestsPerCall ?? NaN, results[i]?.upstreamConnectionsPerCall ?? NaN])) +
    `\n\ngateway/direct at 50 clients: ${f(summary.ratioToDirectAt50)} (target >= 0.8); gateway/mcp-proxy at 50: ${f(summary.ratioToProxyAt50)} (target >= 1.2)` +
    `\nadded at 1 client, gateway path: p50 ${f(summary.addedP50MsAt1)} ms, p99 ${f(summary.addedP99MsAt1)} ms; mcp-proxy path: p50 ${f(summary.proxyAddedP50MsAt1)} ms, p99 ${f(summary.proxyAddedP99MsAt1)} ms (targets: gateway p50 <= mcp-proxy's, p99 <= 2x p50)` +
    `\nCPU per call at 50 clients: gateway/mcp-proxy ${f(summary.gatewayCpuToProxyCpu)} (target <= 0.8), shard/stdio server ${f(summary.shardCpuToStdioServerCpu)} (target <= 1); upstream requests per call: gateway path ${f(summary.gatewayUpstreamRequestsPerCall)}, mcp-proxy path ${f(summary.proxyUpstreamRequestsPerCall)}` +
    `\n\n${cpuBreakdown(results.filter((r) => r.clients === 50), gateway.label, peers.proxy.label)}`;
  return { title: `tools/call ${gateway.tool}`, table, json: { results, summary } };
}

/**
 * diagnose_service latency: a healthy service (every check runs to the end)
 * and two broken ones, at one client and at ten.
 */
async function benchDiagnose(gateway: Target, short: boolean, progress: (msg: string) => void): Promise<Section> {
  const results: LoadResult[] = [];
  for (const clients of [1, 10]) {
    const opts = short
      ? { clients, callsPerClient: clients === 1 ? 20 : 4, warmupCalls: 2, maxMs: 10_000 }
      : { clients, callsPerClient: clients === 1 ? 300 : 60, warmupCalls: 10, maxMs: 60_000 };
    const targets = DIAGNOSED.map((service) => ({ ...gateway, label: service, tool: 'diagnose_service', args: { service } }));
    results.push(...(await runInterleaved(targets, opts, short ? 1 : 3, progress)));
  }
  const rows = results.map((r) => [r.label, r.clients, r.calls, r.errors, r.callsPerSecond, r.p50Ms, r.p99Ms, sumValues(r.cpuMsPerCall), r.upstreamRequestsPerCall]);
  const table = formatTable(['service', 'clients', 'calls', 'errors', 'calls/s', 'p50 ms', 'p99 ms', 'CPU ms/call', 'Traefik req/call'], rows) +
    '\n\nCPU per call: the client, the gateway, the three shards and the stand-ins together. Traefik req/call: requests to the Traefik API per diagnosis (its runtime configuration and its entry points, each read once).';
  return { title: 'diagnose_service', table, json: { results } };
}

/** What diagnose_service is timed on: healthy; no router for the host; forwardAuth to a missing Authentik application. */
const DIAGNOSED = ['whoami', 'nothing.home.lan', 'jellyfin'];

/** 100k calls (short: 2k) through a stateful session and stateless, sampling the gateway's RSS. */
async function benchSoak(started: Started, gateway: Target, short: boolean, progress: (msg: string) => void): Promise<Section> {
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
        const step = Math.max(1, Math.floor(calls / 10));
        for (let i = 0; i < calls; i++) {
          await client.callTool({ name: gateway.tool, arguments: gateway.args });
          if (i === warm) afterWarm = rssMiB(pid);
          if ((i + 1) % step === 0) progress(`${mode}: ${i + 1}/${calls} calls`);
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
async function benchDiscovery(started: Started, gateway: Target, short: boolean, progress: (msg: string) => void): Promise<Section> {
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
      progress(`round ${i + 1}/${rounds}: killing shard-dozzle, then starting it again`);
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

/** What a launcher sends a stand-in to read its upstream traffic (homelab-sim/src/main.ts answers it). */
const TRAFFIC_QUERY = 'homelab-sim:traffic';

/** The Traefik stand-in's API requests and connections so far, asked over its IPC channel. */
function traefikTraffic(started: Started): () => Promise<{ requests: number; connections: number }> {
  return () => {
    const sim = componentNamed(started, 'sim-traefik');
    if (!sim?.child.connected) return Promise.resolve({ requests: NaN, connections: NaN });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sim.child.off('message', onMessage);
        resolve({ requests: NaN, connections: NaN });
      }, 5000);
      const onMessage = (msg: unknown) => {
        const m = msg as { type?: string; traffic?: { traefikApi?: { requests: number; connections: number } } };
        if (m?.type !== TRAFFIC_QUERY) return;
        clearTimeout(timer);
        sim.child.off('message', onMessage);
        resolve(m.traffic?.traefikApi ?? { requests: NaN, connections: NaN });
      };
      sim.child.on('message', onMessage);
      sim.child.send({ type: TRAFFIC_QUERY });
    });
  };
}

/** Idle RSS of every component, a moment after they all report ready. */
async function idleRss(started: Started): Promise<Section> {
  await new Promise((r) => setTimeout(r, 2000));
  const rows = started.components.map((c) => [c.spec.name, c.child.pid ? rssMiB(c.child.pid) : NaN, c.child.pid ? anonRssMiB(c.child.pid) : NaN] as [string, number, number]);
  return {
    title: 'idle RSS per component, 2 s after start (aims: <= 70 MiB per shard, <= 100 MiB for the gateway)',
    table: formatTable(['component', 'RSS MiB', 'of which own (RssAnon)'], rows),
    json: { idleRssMiB: Object.fromEntries(rows.map(([n, rss]) => [n, rss])), idleAnonRssMiB: Object.fromEntries(rows.map(([n, , anon]) => [n, anon])) },
  };
}

/** The ratios the targets are about, under keys that stay the same from run to run (null: the section did not run). */
function summaryOf(sections: Section[]): Record<string, number | null | Record<string, number>> {
  const json = (name: string) => sections.find((s) => s.name === name || s.title === name)?.json as Record<string, unknown> | undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const t = (json('throughput')?.summary ?? {}) as Record<string, unknown>;
  const logs = json('search-logs') ?? {};
  const startup = json('startup') ?? {};
  const fanOut = (json('fan-out')?.summary ?? {}) as Record<string, unknown>;
  const idleJson = sections.find((s) => s.title.startsWith('idle RSS'))?.json as { idleRssMiB?: Record<string, number>; idleAnonRssMiB?: Record<string, number> } | undefined;
  const idle = idleJson?.idleRssMiB;
  return {
    gatewayToDirectCallsPerSecondAt50: num(t.ratioToDirectAt50),
    gatewayToProxyCallsPerSecondAt50: num(t.ratioToProxyAt50),
    gatewayAddedP50MsAt1: num(t.addedP50MsAt1),
    gatewayAddedP99MsAt1: num(t.addedP99MsAt1),
    proxyAddedP50MsAt1: num(t.proxyAddedP50MsAt1),
    proxyAddedP99MsAt1: num(t.proxyAddedP99MsAt1),
    gatewayCpuToProxyCpuPerCall: num(t.gatewayCpuToProxyCpu),
    shardCpuToStdioServerCpuPerCall: num(t.shardCpuToStdioServerCpu),
    gatewayPathUpstreamRequestsPerCall: num(t.gatewayUpstreamRequestsPerCall),
    proxyPathUpstreamRequestsPerCall: num(t.proxyUpstreamRequestsPerCall),
    searchLogsToRawRead: num(logs.ratio),
    searchLogsRegexToRawRead: num(logs.regexRatio),
    startupWarmSeconds: num(startup.warmMedianSeconds),
    fanOutListP50FourToOneInstance: num(fanOut.listP50FourToOne),
    fanOutSearchP50TwoToOneInstance: num(fanOut.searchP50TwoToOne),
    idleRssMiB: idle ?? null,
    idleAnonRssMiB: idleJson?.idleAnonRssMiB ?? null,
  };
}

/** `npm run bench`: every section (or those in `only`) in one run, a table each, and one JSON file. */
export async function runBench(opts: BenchOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const progressOut = opts.progress ?? process.stderr;
  const t0 = performance.now();
  const wanted = (name: SectionName) => !opts.only || opts.only.has(name);
  const progressFor = (name: string) => (msg: string) => progressOut.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${name}: ${msg}\n`);
  const sections: Section[] = [];
  const emit = (s: Section) => {
    sections.push(s);
    out.write(`\n## ${s.title}\n${s.table}\n`);
  };
  out.write(`homelab-mcp bench (${opts.short ? 'short' : 'full'} run${opts.only ? `, only ${[...opts.only].join(', ')}` : ''}), node ${process.version}; per-subject request limits off\n`);
  if (wanted('startup')) {
    progressFor('startup')(`timing npm start (one start to warm up, then ${opts.short ? 1 : 3})`);
    emit({ name: 'startup', ...(await benchStartup(opts.short ? 1 : 3)) });
  }
  const home = await mkdtemp(join(tmpdir(), 'homelab-mcp-bench-'));
  const cfg = loadCliConfig({ HOMELAB_MCP_HOME: home, ...BENCH_LAUNCHER_ENV });
  progressFor('setup')('starting the stand-ins, shards and gateway, and the peers (direct server, mcp-proxy)');
  const started = await startAll(cfg, quiet, { only: new Set(['sim', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'gateway']), env: BENCH_GATEWAY_ENV, out: devNull() });
  const pidOf = (name: string) => componentNamed(started, name)?.child.pid ?? 0;
  const gatewayProcess = (): PathProcess => ({ role: 'gateway', pid: pidOf('gateway') });
  const standIns = (): PathProcess[] => started.components.filter((c) => c.spec.name.startsWith('sim-')).map((c) => ({ role: 'stand-ins', pid: c.child.pid ?? 0 }));
  const upstreamTraffic = traefikTraffic(started);
  const peers = await startPeers(started.state.upstreams, quiet, standIns());
  peers.direct.upstreamTraffic = upstreamTraffic;
  peers.proxy.upstreamTraffic = upstreamTraffic;
  try {
    if (wanted('rss') || wanted('startup')) emit(await idleRss(started));
    const token = (await import('node:fs')).readFileSync(started.state.tokenFile ?? '', 'utf8').trim();
    const gateway: Target = {
      label: 'gateway -> shard',
      url: started.state.mcpUrl ?? '',
      headers: { authorization: `Bearer ${token}` },
      tool: 'get_routes',
      args: { host: 'whoami.home.lan' },
      processes: () => [gatewayProcess(), { role: 'shard', pid: pidOf('shard-traefik') }, ...standIns()],
      upstreamTraffic,
    };
    const run = async (name: SectionName, fn: (progress: (msg: string) => void) => Promise<Section>) => {
      if (!wanted(name)) return;
      const progress = progressFor(name);
      progress('starting');
      const s = await fn(progress);
      emit({ ...s, name });
      progress('done');
    };
    await run('throughput', (p) => benchThroughput(gateway, peers, opts.short, p));
    const allShards = (): PathProcess[] => ['shard-traefik', 'shard-dozzle', 'shard-authentik'].map((name) => ({ role: name, pid: pidOf(name) }));
    await run('diagnose', (p) => benchDiagnose({ ...gateway, processes: () => [gatewayProcess(), ...allShards(), ...standIns()] }, opts.short, p));
    await run('soak', (p) => benchSoak(started, gateway, opts.short, p));
    await run('discovery', (p) => benchDiscovery(started, gateway, opts.short, p));
    await run('search-logs', () => benchSearchLogs(opts.short, componentNamed(started, 'shard-dozzle')?.spec.entry ?? '', quiet));
    await run('fan-out', async (p) => {
      const gatewaySpec = componentNamed(started, 'gateway')?.spec;
      if (!gatewaySpec) return { title: 'fan-out', table: 'skipped: no gateway', json: null };
      return benchFanOut(opts.short, gatewaySpec, componentNamed(started, 'shard-dozzle')?.spec.entry ?? '', quiet, p);
    });
    await run('rss', async () => {
      const rss = started.components.map((c) => [c.spec.name, c.child.pid ? rssMiB(c.child.pid) : NaN, c.child.pid ? peakRssMiB(c.child.pid) : NaN]);
      return { title: 'RSS after the run', table: formatTable(['process', 'RSS MiB', 'peak MiB'], rss), json: rss };
    });
    const summary = summaryOf(sections);
    out.write(`\n## summary (the JSON's "summary" keys)\n${formatTable(['key', 'value'], Object.entries(summary).flatMap(([k, v]): [string, number | string][] => (v !== null && typeof v === 'object' ? Object.entries(v).map(([c, mib]) => [`${k}.${c}`, mib]) : [[k, v ?? '-']])))}\n`);
    const dir = join(process.cwd(), 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify({ short: opts.short, node: process.version, only: opts.only ? [...opts.only] : null, summary, sections }, null, 2)}\n`);
    out.write(`\nresults: ${file}\n`);
    progressFor('bench')(`finished in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return 0;
  } finally {
    await peers.close();
    await started.stop();
    await rm(home, { recursive: true, force: true });
  }
}
