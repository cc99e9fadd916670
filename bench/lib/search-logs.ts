import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import { dockerUnavailable, startDockerEngine, startSocketProxy } from '@homelab-mcp/homelab-sim/docker/index.js';
import { SearchLogsRequest, WatchmanServiceClient, type SearchLogsResponse } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { startComponent, stopComponents } from '@homelab-mcp/cli/supervisor.js';
import { formatTable } from './load.js';
import { cpuMs } from './cpu.js';
import { peakRssMiB, resetPeakRss } from './rss.js';

export interface SearchBench {
  title: string;
  table: string;
  json: unknown;
}

/**
 * One search of the `million` container: its time, lines scanned, matches, and
 * the shard's CPU time and peak RSS during it (the CPU time says what the
 * search costs even when other work on the machine slows it down).
 */
async function timeSearch(client: WatchmanServiceClient, pid: number | undefined, query: string, regex: boolean): Promise<{ seconds: number; scanned: number; matches: number; cpuSeconds: number; peakRssMiB: number }> {
  // Each search's own peak, not the highest since the shard started (when /proc allows it).
  if (pid) resetPeakRss(pid);
  const cpu0 = pid ? cpuMs(pid) : Number.NaN;
  const t0 = performance.now();
  const msgs = await new Promise<SearchLogsResponse[]>((resolve, reject) => {
    const out: SearchLogsResponse[] = [];
    const stream = client.searchLogs(SearchLogsRequest.fromPartial({ query, regex, containers: ['million'], maxMatches: 10 }), new grpc.Metadata(), { deadline: Date.now() + 300_000 });
    stream.on('data', (m: SearchLogsResponse) => out.push(m));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    seconds,
    scanned: Number(Object.assign({}, ...msgs.map((m) => m.linesScanned)).million ?? 0),
    matches: msgs.flatMap((m) => m.matches).length,
    cpuSeconds: pid ? (cpuMs(pid) - cpu0) / 1000 : Number.NaN,
    peakRssMiB: pid ? peakRssMiB(pid) : Number.NaN,
  };
}

/**
 * search_logs over a container that wrote N lines (1M; 100k short), through the
 * real GET-only socket proxy, for plain text and for a regular expression (RE2,
 * the linear-time engine), next to a plain HTTP read of the same logs through
 * the same proxy, with the shard's peak RSS. `shardEntry` is the Watchman as
 * the rest of the run started it (its bundle), so it runs with the same settings.
 */
export async function benchSearchLogs(short: boolean, shardEntry: string, logger: Logger): Promise<SearchBench> {
  const why = dockerUnavailable();
  const title = `search_logs over ${short ? '100k' : '1M'} lines vs a raw read through the socket proxy (targets: ratio >= 0.9, shard peak RSS <= 80 MB)`;
  if (why) return { title, table: `skipped: ${why}`, json: { skipped: why } };
  const lines = short ? 100_000 : 1_000_000;
  const dir = await mkdtemp(join(tmpdir(), 'bench-search-'));
  const engine = await startDockerEngine();
  const proxy = await startSocketProxy(engine.socket);
  const running = [];
  try {
    const id = await engine.runContainer('million', `i=0; seq 1 ${lines} | while read n; do echo "line $n GET /api/v1/repos 200 OK"; done; echo "database is locked"`);
    for (let i = 0; i < 600; i++) {
      if ((await engine.docker(['inspect', '-f', '{{.State.Running}}', id])).trim() === 'false') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // Raw read of the same logs through the proxy (what `docker logs` does), framing included.
    const t0 = performance.now();
    const res = await fetch(`${proxy.url}/containers/${id}/logs?stdout=1&stderr=1&timestamps=1`);
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
    const rawSeconds = (performance.now() - t0) / 1000;

    const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    const sid = pki.identities['shard-dozzle']!;
    const shard = await startComponent({ name: 'shard-dozzle', entry: shardEntry, env: { LOG_LEVEL: 'error', SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: sid.certFile, SHARD_TLS_KEY: sid.keyFile, DOCKER_HOST: proxy.dockerHost } }, logger);
    running.push(shard);
    const gw = pki.identities.gateway!;
    const client = new WatchmanServiceClient(shard.endpoints.grpc ?? '', grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined }), { 'grpc.ssl_target_name_override': 'shard-dozzle' });
    const text = await timeSearch(client, shard.child.pid, 'database is locked', false);
    const regex = await timeSearch(client, shard.child.pid, 'database is (locked|busy)', true);
    client.close();
    const peak = Math.max(text.peakRssMiB, regex.peakRssMiB);
    const rawLinesPerSecond = (lines + 1) / rawSeconds;
    const rate = (s: { seconds: number; scanned: number }) => s.scanned / s.seconds;
    const json = {
      lines: lines + 1, rawBytes: bytes, rawSeconds, rawLinesPerSecond,
      searchSeconds: text.seconds, scanned: text.scanned, matches: text.matches, searchLinesPerSecond: rate(text), ratio: rate(text) / rawLinesPerSecond,
      regexSeconds: regex.seconds, regexScanned: regex.scanned, regexMatches: regex.matches, regexLinesPerSecond: rate(regex), regexRatio: rate(regex) / rawLinesPerSecond,
      shardPeakRssMiB: peak, textPeakRssMiB: text.peakRssMiB, regexPeakRssMiB: regex.peakRssMiB, textCpuSeconds: text.cpuSeconds, regexCpuSeconds: regex.cpuSeconds,
    };
    return {
      title,
      table: formatTable(['read', 'lines', 'seconds', 'lines/s', 'matches', 'shard CPU s', 'shard peak RSS MiB'], [
        ['raw HTTP read through the proxy', lines + 1, rawSeconds, rawLinesPerSecond, '-', '-', '-'],
        ['search_logs, text (shard, gRPC)', text.scanned, text.seconds, rate(text), text.matches, text.cpuSeconds, text.peakRssMiB],
        ['search_logs, regex (shard, gRPC)', regex.scanned, regex.seconds, rate(regex), regex.matches, regex.cpuSeconds, regex.peakRssMiB],
      ]) + `\n\nsearch/raw: text ${json.ratio.toFixed(2)}, regex ${json.regexRatio.toFixed(2)} (target >= 0.9); shard peak RSS ${peak.toFixed(0)} MiB (target <= 80)`,
      json,
    };
  } finally {
    await stopComponents(running);
    await proxy.close();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}
