import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { ensurePki } from '@homelab-mcp/pki';
import { BUSYBOX_IMAGE, dockerUnavailable, startDockerEngine, startSocketProxy, type DockerEngine, type SocketProxy } from '@homelab-mcp/homelab-sim/docker/index.js';
import {
  GetContainerStatsRequest,
  ListContainersRequest,
  SearchLogsRequest,
  TailLogsRequest,
  type SearchLogsResponse,
  type WatchmanServiceClient,
} from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { collect, connectWatchman, shardTlsEnv, startWatchmanProcess, unary, type WatchmanProcess } from './support/watchman-client.js';

const unavailable = dockerUnavailable();
const suite = unavailable ? describe.skip : describe;

// 40 letters: a backtracking engine tries 2^40 ways to match `(?:[a-z]|[a-z])*` before giving up at `!`.
const LETTERS = 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn';
const REDOS_LINES = 200;
// What a container was configured with that must never reach a caller.
const SECRETS = { password: 'Hunter2Secret', token: 'tok9f8e7d6c5b4a', label: 'LabelSecret123', command: 'CmdSecret456', health: 'HealthPass987' };
const FLEET = 12;

let dir: string;
let engine: DockerEngine;
let proxy: SocketProxy;
let watchman: WatchmanProcess;
let client: WatchmanServiceClient;
const extra: string[] = [];

const search = (req: Partial<SearchLogsRequest>, c = client, timeoutMs = 30_000) =>
  collect<SearchLogsResponse>(c.searchLogs(SearchLogsRequest.fromPartial(req), new grpc.Metadata(), { deadline: Date.now() + timeoutMs }));
const matchTexts = (msgs: SearchLogsResponse[]) => msgs.flatMap((m) => m.matches.map((x) => x.line?.text));

async function waitForLine(name: string, text: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await engine.docker(['logs', name]).catch(() => '')).includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} never wrote "${text}"`);
}

/** A container running `script` with `options` for docker run; `argv` follows the script (its $0...). */
async function run(name: string, options: string[], script: string, argv: string[] = []): Promise<void> {
  extra.push(name);
  await engine.docker(['run', '-d', '--network', 'none', '--name', name, ...options, BUSYBOX_IMAGE, '/bin/sh', '-c', script, ...argv]);
}

suite(`Watchman under attack, on a real Docker engine behind the socket proxy${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'watchman-attacks-'));
    engine = await startDockerEngine();
    await Promise.all([
      run('redos', [], `for i in $(seq 1 ${REDOS_LINES}); do echo "line $i err_abcd${LETTERS}"; done; echo redos-ready; sleep 3600`),
      run('vault', [], 'echo "login ok user=alice password=hunter2"; echo "password=hunter2"; echo "vault-ready"; sleep 3600'),
      run(
        'secrets-app',
        ['-e', `DB_PASSWORD=${SECRETS.password}`, '-e', `GITEA_TOKEN=${SECRETS.token}`, '-e', 'TZ=UTC', '--label', 'com.docker.compose.service=secrets', '--label', `homelab.api-token=${SECRETS.label}`, '--health-cmd', `true --password=${SECRETS.health}`],
        [
          'echo "db ready (password $DB_PASSWORD)"',
          'echo "GITEA_TOKEN=$GITEA_TOKEN"',
          'echo "calling with ${0#--api-key=}"',
          `echo "label secret ${SECRETS.label} in use"`,
          `echo "health secret ${SECRETS.health}"`,
          'echo "timezone $TZ"',
          'echo app-ready',
          'sleep 3600',
        ].join('; '),
        [`--api-key=${SECRETS.command}`],
      ),
      ...Array.from({ length: FLEET }, (_, i) => run(`fleet-${i}`, [], 'sleep 3600')),
    ]);
    await Promise.all([waitForLine('redos', 'redos-ready'), waitForLine('vault', 'vault-ready'), waitForLine('secrets-app', 'app-ready')]);
    proxy = await startSocketProxy(engine.socket);
    const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    watchman = await startWatchmanProcess({ ...shardTlsEnv(pki), DOCKER_HOST: proxy.dockerHost });
    client = await connectWatchman(pki, watchman.port);
  }, 240_000);

  afterAll(async () => {
    client?.close();
    await watchman?.close();
    if (extra.length) await engine?.docker(['rm', '-f', ...extra]).catch(() => undefined);
    await proxy?.close();
    await engine?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  describe('a pattern that would backtrack for ever', () => {
    it('is searched in linear time, and the shard answers other calls meanwhile', async () => {
      const pending = search({ query: `err_abcd(?:[a-z]|[a-z])*!`, regex: true, containers: ['redos'] }, client, 60_000);
      const [list, stats] = await Promise.all([
        unary(client, client.listContainers, ListContainersRequest.fromPartial({ name: 'redos' }), 20_000),
        unary(client, client.getContainerStats, GetContainerStatsRequest.fromPartial({ container: 'redos' }), 20_000),
      ]);
      expect(list.containers.map((c) => c.name)).toEqual(['redos']);
      expect(stats.stats[0]?.container?.name).toBe('redos');
      const msgs = await pending;
      expect(msgs.flatMap((m) => m.matches)).toEqual([]);
      expect(Object.assign({}, ...msgs.map((m) => m.linesScanned))).toEqual({ redos: String(REDOS_LINES + 1) });
      expect(msgs.at(-1)).toMatchObject({ done: true, limitReached: false });
      // The same shape with the `!` present matches: the engine searches, it does not refuse.
      const hit = await search({ query: 'err_abcd(?:[a-z]|[a-z])*n$', regex: true, containers: ['redos'], maxMatches: 1 });
      expect(matchTexts(hit)).toEqual([`line 1 err_abcd${LETTERS}`]);
    }, 90_000);

    it.each([
      ['a backreference', '(err)\\1'],
      ['a lookahead', 'err(?=_abcd)'],
      ['a negative lookbehind', '(?<!line )err'],
    ])('refuses %s with an error naming the field and the syntax', async (_what, query) => {
      const err = (await search({ query, regex: true, containers: ['redos'] }).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^query is not an RE2 regular expression: /);
    });
  });

  describe('probing a redacted secret by searching', () => {
    const probes: [string, boolean][] = [
      ['password=hun[a-m]', true],
      ['password=hun[n-z]', true],
      ['password=h', true],
      ['password=[a-z]+2', true],
      ['password=.{7}$', true],
      ['(?i)HUNTER', true],
      ['hunter2', false],
      ['=hun', false],
    ];

    it('finds nothing: lines are matched as the caller sees them, with the secret redacted', async () => {
      const results = await Promise.all(probes.map(([query, regex]) => search({ query, regex, containers: ['vault'] })));
      expect(results.map(matchTexts)).toEqual(probes.map(() => []));
    });

    it('still finds the line by what it shows', async () => {
      expect(matchTexts(await search({ query: 'password=', containers: ['vault'] }))).toEqual(['login ok user=alice password=[REDACTED]', 'password=[REDACTED]']);
      expect(matchTexts(await search({ query: '^password=\\[REDACTED\\]$', regex: true, containers: ['vault'] }))).toEqual(['password=[REDACTED]']);
    });
  });

  describe("a container's configuration", () => {
    it('never shows its secrets, in any tool, and its logs show them redacted', async () => {
      const tail = await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'secrets-app' }), new grpc.Metadata(), { deadline: Date.now() + 30_000 }));
      expect(tail.flatMap((m) => m.lines.map((l) => l.text))).toEqual([
        'db ready (password [REDACTED])',
        'GITEA_TOKEN=[REDACTED]',
        'calling with [REDACTED]',
        'label secret [REDACTED] in use',
        'health secret [REDACTED]',
        'timezone UTC',
        'app-ready',
      ]);
      expect(tail[0]?.redactions).toBe(5);
      const outputs: unknown[] = [
        tail,
        await unary(client, client.listContainers, ListContainersRequest.fromPartial({ all: true })),
        await unary(client, client.listContainers, ListContainersRequest.fromPartial({ name: 'secrets' })),
        await unary(client, client.getContainerStats, GetContainerStatsRequest.fromPartial({})),
        await unary(client, client.getContainerStats, GetContainerStatsRequest.fromPartial({ container: 'secrets' })),
        await search({ query: 'ready|secret|calling|TOKEN', regex: true, containers: ['secrets-app'], contextLines: 2 }),
        ...(await Promise.all(Object.values(SECRETS).map((s) => search({ query: s })))),
      ];
      const seen = JSON.stringify(outputs);
      for (const secret of Object.values(SECRETS)) expect(seen).not.toContain(secret);
      // Nothing to find by the secrets themselves; what is shown can be found.
      expect((await Promise.all(Object.values(SECRETS).map((s) => search({ query: s })))).map(matchTexts)).toEqual(Object.values(SECRETS).map(() => []));
      expect(matchTexts(await search({ query: 'REDACTED', containers: ['secrets'] }))).toHaveLength(5);
    });
  });

  describe('many containers', () => {
    it('are read without piling abort listeners on one call (no MaxListenersExceededWarning)', async () => {
      const list = await unary(client, client.listContainers, ListContainersRequest.fromPartial({ all: true }));
      expect(list.containers).toHaveLength(FLEET + 3);
      const stats = await unary(client, client.getContainerStats, GetContainerStatsRequest.fromPartial({}));
      expect(stats.stats).toHaveLength(FLEET + 3);
      await search({ query: 'nothing logs this', containers: Array.from({ length: FLEET }, (_, i) => `fleet-${i}`) });
      expect((await watchman.warnings()).filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    });
  });
});
