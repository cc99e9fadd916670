import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Logger } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import { startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import { startComponent, stopComponents, type ComponentSpec, type RunningComponent } from '@homelab-mcp/cli/supervisor.js';
import { formatTable, runInterleaved, type LoadResult, type Target } from './load.js';

export interface FanOutBench {
  title: string;
  table: string;
  json: unknown;
}

const NODES = ['n1', 'n2', 'n3', 'n4'];

/** Waits until the gateway answers the tool (its instances serving), or gives up saying which. */
async function untilAnswered(target: Target, timeoutMs = 30_000): Promise<void> {
  const client = new Client({ name: 'bench-fan-out', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(target.url), { requestInit: { headers: target.headers ?? {} } }));
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await client.callTool({ name: target.tool, arguments: target.args }).catch(() => ({ isError: true, structuredContent: undefined }));
      const fleet = (res.structuredContent as { fleet?: { instances?: { ok: boolean }[] } } | undefined)?.fleet;
      if (!res.isError && (fleet?.instances ?? [{ ok: true }]).every((i) => i.ok)) return;
      if (Date.now() > deadline) throw new Error(`${target.label}: ${target.tool} not answered by every instance within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.close();
  }
}

/**
 * The cost of federating Watchmen: list_containers through a gateway with 1, 2
 * and 4 instances (each on its own Dozzle stand-in with the demo's
 * containers), and search_logs over two instances against one. `gateway` and
 * `shardEntry` are the components as the rest of the run started them.
 */
export async function benchFanOut(short: boolean, gateway: ComponentSpec, shardEntry: string, logger: Logger, progress: (msg: string) => void): Promise<FanOutBench> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-fan-out-'));
  const sims: DozzleSim[] = [];
  const running: RunningComponent[] = [];
  try {
    const pki = await ensurePki(join(dir, 'pki'), ['gateway', ...NODES.map((n) => `shard-dozzle/${n}`)]);
    const gw = pki.identities.gateway!;
    progress('starting 4 Dozzle stand-ins and 4 Watchman instances');
    const shards: RunningComponent[] = [];
    for (const node of NODES) {
      const sim = await startDozzleSim();
      sims.push(sim);
      const id = pki.identities[`shard-dozzle/${node}`]!;
      const shard = await startComponent({ name: `shard-dozzle/${node}`, entry: shardEntry, env: { LOG_LEVEL: 'error', SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: id.certFile, SHARD_TLS_KEY: id.keyFile, DOZZLE_API: sim.url, SHARD_INSTANCE: node } }, logger);
      running.push(shard);
      shards.push(shard);
    }
    // The run's gateway settings without its shards: each of these gateways sees only its instances.
    const base = Object.fromEntries(Object.entries(gateway.env).filter(([k]) => !k.startsWith('SHARD_') && k !== 'GATEWAY_PLAINTEXT_SHARDS'));
    const targets = new Map<number, Target>();
    for (const n of [1, 2, 4]) {
      progress(`starting a gateway with ${n} instance${n === 1 ? '' : 's'}`);
      const dataDir = join(dir, `gateway-${n}`);
      const instances = NODES.slice(0, n).map((node, i) => `${node}=${shards[i]!.endpoints.grpc}`).join(',');
      const component = await startComponent({
        ...gateway,
        name: `gateway-${n}-instances`,
        env: { ...base, GATEWAY_LISTEN: '127.0.0.1:0', GATEWAY_DATA_DIR: dataDir, GATEWAY_TOKEN_FILE: join(dataDir, 'token'), GATEWAY_TLS_CA: pki.caFile, GATEWAY_TLS_CERT: gw.certFile, GATEWAY_TLS_KEY: gw.keyFile, SHARD_DOZZLE_INSTANCES: instances },
      }, logger);
      running.push(component);
      const token = (await readFile(join(dataDir, 'token'), 'utf8')).trim();
      const pids = () => [{ role: 'gateway', pid: component.child.pid ?? 0 }, ...shards.slice(0, n).map((s) => ({ role: 'shards', pid: s.child.pid ?? 0 }))];
      const target: Target = { label: `${n} instance${n === 1 ? '' : 's'}`, url: component.endpoints.mcp ?? '', headers: { authorization: `Bearer ${token}` }, tool: 'list_containers', args: { all: true }, processes: pids };
      await untilAnswered(target);
      targets.set(n, target);
    }
    const list = await runInterleaved([...targets.values()], { clients: 1, callsPerClient: short ? 30 : 600, warmupCalls: short ? 3 : 20, maxMs: short ? 10_000 : 60_000 }, short ? 1 : 3, progress);
    const searchTargets = [1, 2].map((n): Target => ({ ...targets.get(n)!, label: `search_logs, ${n} instance${n === 1 ? '' : 's'}`, tool: 'search_logs', args: { query: 'database is locked', max_matches: 100 } }));
    const search = await runInterleaved(searchTargets, { clients: 1, callsPerClient: short ? 10 : 200, warmupCalls: short ? 2 : 10, maxMs: short ? 10_000 : 60_000 }, short ? 1 : 3, progress);
    const row = (r: LoadResult) => [r.label, r.calls, r.errors, r.callsPerSecond, r.p50Ms, r.p99Ms, Object.values(r.cpuMsPerCall).reduce((a, b) => a + b, 0)];
    const headers = ['call', 'calls', 'errors', 'calls/s', 'p50 ms', 'p99 ms', 'CPU ms/call'];
    const p50 = (rs: LoadResult[], label: string) => rs.find((r) => r.label === label)?.p50Ms ?? Number.NaN;
    const summary = {
      listP50MsBy: { 1: p50(list, '1 instance'), 2: p50(list, '2 instances'), 4: p50(list, '4 instances') },
      listP50FourToOne: p50(list, '4 instances') / p50(list, '1 instance'),
      searchP50TwoToOne: p50(search, 'search_logs, 2 instances') / p50(search, 'search_logs, 1 instance'),
    };
    return {
      title: 'fan-out: list_containers with 1, 2 and 4 Watchman instances, search_logs over two against one (Dozzle stand-ins, one client)',
      table: `${formatTable(headers, list.map((r) => row({ ...r, label: `list_containers, ${r.label}` })))}\n\n${formatTable(headers, search.map(row))}` +
        `\n\np50 4 instances / 1: ${summary.listP50FourToOne.toFixed(2)}; search_logs p50 2 instances / 1: ${summary.searchP50TwoToOne.toFixed(2)}. Instances are asked at once, so a merged call costs about its slowest instance plus the merge; CPU per call counts the gateway and every instance asked.`,
      json: { list, search, summary },
    };
  } finally {
    await stopComponents(running);
    for (const s of sims) await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}
