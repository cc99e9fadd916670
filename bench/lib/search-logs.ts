import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import { dockerUnavailable, startDockerEngine, startSocketProxy } from '@homelab-mcp/homelab-sim/docker/index.js';
import { SearchLogsRequest, WatchmanServiceClient, type SearchLogsResponse } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { startComponent, stopComponents } from '../../cli/src/supervisor.js';
import { formatTable } from './load.js';
import { peakRssMiB } from './rss.js';

export interface SearchBench {
  title: string;
  table: string;
  json: unknown;
}

/**
 * search_logs over a container that wrote N lines (1M; 100k short), through the
 * real GET-only socket proxy, next to a plain HTTP read of the same logs through
 * the same proxy, with the shard's peak RSS. `shardEntry` is the Watchman as
 * the rest of the run started it (its bundle), so it runs with the same settings.
 */
export async function benchSearchLogs(short: boolean, shardEntry: string, logger: Logger): Promise<SearchBench> {
  const why = dockerUnavailable();
  const title = `search_logs over ${short ? '100k' : '1M'} lines vs a raw read through the socket proxy (targets: ratio >= 0.8, shard peak RSS <= 80 MB)`;
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
    const t1 = performance.now();
    const msgs = await new Promise<SearchLogsResponse[]>((resolve, reject) => {
      const out: SearchLogsResponse[] = [];
      const stream = client.searchLogs(SearchLogsRequest.fromPartial({ query: 'database is locked', containers: ['million'], maxMatches: 10 }), new grpc.Metadata(), { deadline: Date.now() + 300_000 });
      stream.on('data', (m: SearchLogsResponse) => out.push(m));
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
    });
    const searchSeconds = (performance.now() - t1) / 1000;
    client.close();
    const scanned = Number(Object.assign({}, ...msgs.map((m) => m.linesScanned)).million ?? 0);
    const matches = msgs.flatMap((m) => m.matches).length;
    const peak = shard.child.pid ? peakRssMiB(shard.child.pid) : Number.NaN;
    const rawLinesPerSecond = (lines + 1) / rawSeconds;
    const searchLinesPerSecond = scanned / searchSeconds;
    const json = { lines: lines + 1, rawBytes: bytes, rawSeconds, rawLinesPerSecond, searchSeconds, scanned, matches, searchLinesPerSecond, ratio: searchLinesPerSecond / rawLinesPerSecond, shardPeakRssMiB: peak };
    return {
      title,
      table: formatTable(['read', 'lines', 'seconds', 'lines/s', 'matches', 'shard peak RSS MiB'], [
        ['raw HTTP read through the proxy', lines + 1, rawSeconds, rawLinesPerSecond, '-', '-'],
        ['search_logs (shard, gRPC)', scanned, searchSeconds, searchLinesPerSecond, matches, peak],
      ]) + `\n\nsearch/raw: ${(searchLinesPerSecond / rawLinesPerSecond).toFixed(2)} (target >= 0.8); shard peak RSS ${peak.toFixed(0)} MiB (target <= 80)`,
      json,
    };
  } finally {
    await stopComponents(running);
    await proxy.close();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}
