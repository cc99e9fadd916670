import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import {
  GetContainerStatsRequest,
  ListContainersRequest,
  SearchLogsRequest,
  StatsSort,
  TailLogsRequest,
  type SearchLogsResponse,
  type TailLogsResponse,
  type WatchmanServiceClient,
} from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { parseConfig, startWatchman } from '../src/index.js';
import { collect, connectWatchman, shardTlsEnv, unary } from './support/watchman-client.js';

let dir: string;
let sim: DozzleSim;
let shard: RunningShard;
let client: WatchmanServiceClient;

const deadline = () => ({ deadline: Date.now() + 20_000 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'watchman-'));
  const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
  sim = await startDozzleSim({ auth: { provider: 'simple', username: 'admin', password: 'hunter22' } });
  shard = await startWatchman(parseConfig({
    ...shardTlsEnv(pki),
    DOZZLE_API: sim.url, DOZZLE_AUTH_PROVIDER: 'simple', DOZZLE_USERNAME: 'admin', DOZZLE_PASSWORD: 'hunter22',
  }), pino({ level: 'silent' }));
  client = await connectWatchman(pki, shard.port);
});

afterAll(async () => {
  client?.close();
  await shard?.close(0);
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Watchman on the Dozzle API (simple login)', () => {
  it('lists containers with state, health and compose service', async () => {
    const res = await unary(client, client.listContainers, ListContainersRequest.fromPartial({ all: true }));
    const names = res.containers.map((c) => c.name);
    expect(names).toEqual(['authentik-server', 'backup', 'gitea', 'paperless', 'pinchflat', 'traefik', 'whoami']);
    expect(res.containers.find((c) => c.name === 'pinchflat')).toMatchObject({ state: 'restarting', composeProject: 'homelab' });
    const running = await unary(client, client.listContainers, ListContainersRequest.fromPartial({}));
    expect(running.containers.map((c) => c.name)).not.toContain('backup');
  });

  it("shows gitea's last lines with ANSI stripped and secrets redacted", async () => {
    const msgs = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'gitea', lines: 20 }), new grpc.Metadata(), deadline()));
    const tail = msgs[0] as TailLogsResponse;
    expect(tail.container?.name).toBe('gitea');
    expect(tail.lines).toHaveLength(20);
    expect(tail.truncated).toBe(true);
    expect(tail.lines.some((l) => l.text.includes('ghp_'))).toBe(false);
    expect(tail.redactions).toBeGreaterThan(0);
    const pinch = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'pinchflat', lines: 2 }), new grpc.Metadata(), deadline()));
    expect(pinch[0]?.lines.map((l) => l.text).join('\n')).not.toContain('\u001b[');
  });

  it('finds a container by compose service and suggests near names', async () => {
    const msgs = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'server', lines: 1 }), new grpc.Metadata(), deadline()));
    expect(msgs[0]?.container?.name).toBe('authentik-server');
    const err = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'gitee' }), new grpc.Metadata(), deadline())).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    expect((err as grpc.ServiceError).details).toContain('did you mean "gitea"');
  });

  it('follows new lines for a bounded time', async () => {
    const stream = client.tailLogs(TailLogsRequest.fromPartial({ container: 'traefik', lines: 1, follow: true, followFor: { seconds: '2', nanos: 0 } }), new grpc.Metadata(), deadline());
    const pending = collect(stream);
    await new Promise((r) => setTimeout(r, 400));
    sim.appendLog('traefik', 'stdout', 'INF a brand new line');
    const msgs = await pending;
    expect(msgs.flatMap((m) => m.lines.map((l) => l.text))).toContain('INF a brand new line');
  });

  it('searches every container with context and counts, and stops at the limit', async () => {
    const msgs = (await collect(client.searchLogs(SearchLogsRequest.fromPartial({ query: 'database is locked', contextLines: 1 }), new grpc.Metadata(), deadline()))) as SearchLogsResponse[];
    const matches = msgs.flatMap((m) => m.matches);
    expect(matches.length).toBe(6);
    expect(matches.every((m) => m.container === 'gitea' && m.before.length === 1)).toBe(true);
    expect(msgs.at(-1)?.done).toBe(true);
    const counts = Object.assign({}, ...msgs.map((m) => m.matchesPerContainer)) as Record<string, string>;
    expect(counts.gitea).toBe('6');
    const limited = (await collect(client.searchLogs(SearchLogsRequest.fromPartial({ query: 'router', maxMatches: 5 }), new grpc.Metadata(), deadline()))) as SearchLogsResponse[];
    expect(limited.flatMap((m) => m.matches)).toHaveLength(5);
    expect(limited.at(-1)?.limitReached).toBe(true);
    expect(limited.at(-1)?.stoppedReason).toContain('max_matches');
  });

  it('refuses an invalid regular expression, and runs a nested quantifier in linear time', async () => {
    await expect(collect(client.searchLogs(SearchLogsRequest.fromPartial({ query: '(unclosed', regex: true }), new grpc.Metadata(), deadline()))).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'query is not an RE2 regular expression: missing closing ): `(unclosed`',
    });
    const msgs = (await collect(client.searchLogs(SearchLogsRequest.fromPartial({ query: '(locke+)+d$', regex: true, containers: ['gitea'] }), new grpc.Metadata(), deadline()))) as SearchLogsResponse[];
    expect(msgs.flatMap((m) => m.matches)).toHaveLength(6);
  });

  it('answers "which container is eating memory?"', async () => {
    const res = await unary(client, client.getContainerStats, GetContainerStatsRequest.fromPartial({ sortBy: StatsSort.STATS_SORT_MEMORY, limit: 2 }));
    expect(res.stats.map((s) => s.container?.name)).toEqual(['authentik-server', 'gitea']);
    expect(Number(res.stats[0]?.memoryUsageBytes)).toBe(1536 * 1024 * 1024);
    expect(res.stats[0]?.memoryPercent).toBeCloseTo(75, 0);
  });
});
