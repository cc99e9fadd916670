import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { dockerUnavailable, startDockerEngine, startSocketProxy, type DockerEngine, type SocketProxy } from '@homelab-mcp/homelab-sim/docker/index.js';
import {
  GetContainerStatsRequest,
  ListContainersRequest,
  LogStream,
  SearchLogsRequest,
  TailLogsRequest,
  type SearchLogsResponse,
  type TailLogsResponse,
  type WatchmanServiceClient,
} from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { parseConfig, startWatchman } from '../src/index.js';
import { collect, connectWatchman, shardTlsEnv, unary } from './support/watchman-client.js';

const unavailable = dockerUnavailable();
const suite = unavailable ? describe.skip : describe;

let dir: string;
let engine: DockerEngine;
let proxy: SocketProxy;
let shard: RunningShard;
let client: WatchmanServiceClient;
const md = () => new grpc.Metadata();
const deadline = () => ({ deadline: Date.now() + 30_000 });

async function waitForLines(name: string, n: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await engine.docker(['logs', name]).catch(() => '')).split('\n').filter(Boolean).length >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite(`Watchman on a real Docker engine behind the GET-only socket proxy${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watchman-docker-'));
    engine = await startDockerEngine();
    await engine.runContainer('app-plain', 'for i in $(seq 1 5); do echo "plain out $i"; echo "ERROR plain err $i" >&2; done; echo "token=abcdef1234567890 \u001b[31mred\u001b[0m"; sleep 3600', { labels: { 'com.docker.compose.project': 'lab', 'com.docker.compose.service': 'web' } });
    await engine.runContainer('app-tty', 'for i in $(seq 1 3); do echo "tty line $i"; done; sleep 3600', { tty: true });
    await engine.runContainer('app-stream', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done');
    await waitForLines('app-plain', 11);
    await waitForLines('app-tty', 3);
    proxy = await startSocketProxy(engine.socket);
    const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    shard = await startWatchman(parseConfig({ ...shardTlsEnv(pki), DOCKER_HOST: proxy.dockerHost }), pino({ level: 'silent' }));
    client = await connectWatchman(pki, shard.port);
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await shard?.close(0);
    await proxy?.close();
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('lists containers with their compose service and TTY flag', async () => {
    const res = await unary(client, client.listContainers, ListContainersRequest.fromPartial({ all: true }));
    expect(res.containers.map((c) => c.name).sort()).toEqual(['app-plain', 'app-stream', 'app-tty']);
    expect(res.containers.find((c) => c.name === 'app-plain')).toMatchObject({ composeService: 'web', state: 'running', tty: false });
    expect(res.containers.find((c) => c.name === 'app-tty')?.tty).toBe(true);
  });

  it('demultiplexes stdout and stderr of a container without a TTY, cleaned', async () => {
    const [msg] = (await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'web', lines: 100 }), md(), deadline()))) as TailLogsResponse[];
    const lines = msg?.lines ?? [];
    expect(lines.filter((l) => l.stream === LogStream.LOG_STREAM_STDOUT).map((l) => l.text).slice(0, 2)).toEqual(['plain out 1', 'plain out 2']);
    expect(lines.filter((l) => l.stream === LogStream.LOG_STREAM_STDERR).map((l) => l.text)).toContain('ERROR plain err 5');
    // Docker reads stdout and stderr in separate goroutines: their relative order is not guaranteed.
    expect(lines.find((l) => l.text.startsWith('token='))?.text).toBe('token=[REDACTED] red');
    const stderrOnly = (await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'app-plain', streams: 2 }), md(), deadline())))[0];
    expect(stderrOnly?.lines.every((l) => l.stream === LogStream.LOG_STREAM_STDERR)).toBe(true);
  });

  it('reads the raw stream of a TTY container', async () => {
    const [msg] = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'app-tty' }), md(), deadline()));
    expect(msg?.lines.map((l) => l.text)).toEqual(['tty line 1', 'tty line 2', 'tty line 3']);
    expect(msg?.lines.every((l) => l.stream === LogStream.LOG_STREAM_UNSPECIFIED)).toBe(true);
  });

  it('honours since/until', async () => {
    const future = { seconds: String(Math.floor(Date.now() / 1000) + 3600), nanos: 0 };
    const none = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'app-plain', since: future }), md(), deadline()));
    expect(none[0]?.lines).toEqual([]);
  });

  it('follows new lines and stops when the client cancels', async () => {
    const stream = client.tailLogs(TailLogsRequest.fromPartial({ container: 'app-stream', lines: 1, follow: true, followFor: { seconds: '60', nanos: 0 } }), md(), deadline());
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      stream.on('data', (m: TailLogsResponse) => {
        seen.push(...m.lines.map((l) => l.text));
        if (seen.length >= 4) resolve();
      });
    });
    stream.cancel();
    const err = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    expect(err.code).toBe(grpc.status.CANCELLED);
    expect(seen.filter((t) => /^tick \d+$/.test(t)).length).toBeGreaterThanOrEqual(4);
  });

  it('searches across containers', async () => {
    const msgs = (await collect(client.searchLogs(SearchLogsRequest.fromPartial({ query: 'ERROR plain' }), md(), deadline()))) as SearchLogsResponse[];
    expect(msgs.flatMap((m) => m.matches)).toHaveLength(5);
    expect(msgs.at(-1)?.done).toBe(true);
  });

  it('reads one-shot stats', async () => {
    const res = await unary(client, client.getContainerStats, GetContainerStatsRequest.fromPartial({ container: 'app-stream' }));
    expect(res.stats[0]?.container?.name).toBe('app-stream');
    expect(Number(res.stats[0]?.memoryUsageBytes)).toBeGreaterThan(0);
    expect(res.stats[0]?.pids).toBeGreaterThan(0);
  });

  it('cannot change anything: the proxy refuses a write with its 403 page', async () => {
    const res = await fetch(`${proxy.url}/containers/app-stream/stop`, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Request forbidden by administrative rules.');
    expect((await engine.docker(['inspect', '-f', '{{.State.Running}}', 'app-stream'])).trim()).toBe('true');
  });
});
