import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { waitForReady } from '@homelab-mcp/component-kit';
import { build } from 'esbuild';
import { ensurePki } from '@homelab-mcp/pki';
import { startTraefikSim, type TraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import {
  AddDynamicConfigRequest,
  NavigatorServiceClient,
  RecoveryOutcome,
  RemoveDynamicConfigRequest,
  type InterruptedChange,
  type ListDynamicConfigsResponse,
} from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';

const root = process.cwd();
const out = join(root, '.tmp', `crash-${process.pid}`);
const bundle = (name: string) => join(out, `${name}.mjs`);

beforeAll(async () => {
  // Compiled once (next to node_modules, which they import from), so each of the many
  // processes starts in milliseconds instead of compiling TypeScript again.
  await build({
    entryPoints: { 'crash-writer': join(root, 'shard-traefik/test/support/crash-writer.ts'), 'crash-shard': join(root, 'shard-traefik/test/support/crash-shard.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outdir: out,
    outExtension: { '.js': '.mjs' },
    logLevel: 'silent',
    plugins: [
      {
        // Workspace packages are TypeScript: compile them in; everything from npm stays an import.
        name: 'workspace',
        setup(b) {
          // (esbuild resolves their exports itself, `.js` to the `.ts` beside it)
          b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('@homelab-mcp/') ? undefined : { path: a.path, external: true }));
        },
      },
    ],
  });
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('atomic writes', () => {
  it('never leaves a partial or half-renamed .yml when the writer is killed (100 times)', async () => {
    const crashDir = await mkdtemp(join(tmpdir(), 'crash-'));
    const dynamicDir = join(crashDir, 'dynamic');
    await mkdir(dynamicDir);
    for (let i = 0; i < 100; i++) {
      const child = spawn(process.execPath, [bundle('crash-writer'), dynamicDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 40)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      for (const f of (await readdir(dynamicDir)).filter((n) => n.endsWith('.yml'))) {
        const text = await readFile(join(dynamicDir, f), 'utf8');
        expect(/^# managed-by: homelab-mcp shard-traefik\nversion: (\d)\nx{65536}\nend: \1\n$/.test(text)).toBe(true);
      }
    }
    // The writer did get its file in place between the kills.
    expect(await readdir(dynamicDir)).toContain('mcp-crash.yml');
    await rm(crashDir, { recursive: true, force: true });
  }, 120_000);
});

type Stage = 'begin' | 'journaled' | 'written' | 'confirming' | 'confirmed' | 'rolled-back' | 'settled';
type Call<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown;

/** One run of the real shard as a child process, armed to die at a stage of the next apply. */
class ShardProcess {
  readonly exited: Promise<string>;
  readonly logs: { stage?: string; msg?: string; outcome?: string }[] = [];
  private readonly waiters: { stage: string; resolve: () => void }[] = [];
  client!: NavigatorServiceClient;

  private constructor(readonly proc: ChildProcess) {
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? String(code))));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as { stage?: string; msg?: string };
      this.logs.push(rec);
      for (const w of this.waiters.filter((x) => x.stage === rec.stage)) w.resolve();
    });
  }

  static async start(env: Record<string, string>, creds: grpc.ChannelCredentials): Promise<ShardProcess> {
    const proc = spawn(process.execPath, [bundle('crash-shard')], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    const child = new ShardProcess(proc);
    const endpoints = await waitForReady(proc, 'the shard');
    child.client = new NavigatorServiceClient(endpoints.grpc ?? '', creds);
    return child;
  }

  call<Req, Res>(method: Call<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => method.call(this.client, req, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (e, r) => (e ? reject(e) : resolve(r))));
  }

  async arm(stage: Stage): Promise<void> {
    await new Promise<void>((resolve) => {
      this.proc.once('message', () => resolve());
      this.proc.send({ arm: stage });
    });
  }

  reached(stage: Stage): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ stage, resolve }));
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

const until = async (what: string, check: () => Promise<boolean>) => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** list_dynamic_configs once the shard has settled what it found at start. */
async function settled(shard: ShardProcess): Promise<ListDynamicConfigsResponse> {
  let list!: ListDynamicConfigsResponse;
  await until('the interrupted apply to be settled', async () => {
    list = await shard.call(shard.client.listDynamicConfigs, {});
    return !list.interruptedChanges.some((c) => c.outcome === RecoveryOutcome.RECOVERY_OUTCOME_PENDING);
  });
  return list;
}

interface Scenario {
  op: 'add' | 'add-rejected' | 'remove';
  /** Where the shard dies: a stage it logs (exact), or 'random' (SIGKILL from outside while it waits for Traefik). */
  kill: Stage | 'random';
}

describe('an apply cut short by kill -9', () => {
  let dir: string;
  let sim: TraefikSim;

  let env: Record<string, string>;
  let creds: grpc.ChannelCredentials;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'navigator-crash-'));
    sim = await startTraefikSim({ dynamicDir: join(dir, 'dynamic'), throttleMs: 50 });
    const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-traefik']);
    const id = pki.identities['shard-traefik']!;
    const gw = pki.identities.gateway!;
    creds = grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined });
    env = {
      SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: id.certFile, SHARD_TLS_KEY: id.keyFile,
      TRAEFIK_API: sim.apiUrl, TRAEFIK_DYNAMIC_DIR: sim.dynamicDir, TRAEFIK_CONFIRM_TIMEOUT_MS: '5000',
    };
  });

  afterAll(async () => {
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is finished or undone at the next start, at every stage, and list_dynamic_configs tells which', async () => {
    const file = join(sim.dynamicDir, 'mcp-crash.yml');
    const journal = join(sim.dynamicDir, '.mcp-state', 'journal.json');
    const current = () => readFile(file, 'utf8').catch(() => undefined);
    const served = async () => {
      const res = await fetch(`${sim.apiUrl}/http/routers/crash@file`);
      return res.status === 404 ? undefined : ((await res.json()) as { rule: string; status: string });
    };
    const ruleOf = (text: string | undefined) => (text === undefined ? undefined : /rule: (.*)\n/.exec(text)?.[1]);

    const stages: Stage[] = ['begin', 'journaled', 'written', 'confirming', 'confirmed', 'settled'];
    const scenarios: Scenario[] = [];
    for (let round = 0; round < 3; round++) {
      for (const kill of stages) scenarios.push({ op: 'add', kill });
      for (const kill of ['written', 'confirming', 'rolled-back'] as Stage[]) scenarios.push({ op: 'add-rejected', kill });
      for (const kill of ['journaled', 'written', 'confirmed'] as Stage[]) scenarios.push({ op: 'remove', kill });
      for (let i = 0; i < 4; i++) scenarios.push({ op: i % 2 ? 'remove' : 'add', kill: 'random' });
    }

    const outcomes: Record<string, number> = {};
    let shard = await ShardProcess.start(env, creds);
    try {
      for (const [i, sc] of scenarios.entries()) {
        // The state before this run: whatever the previous runs left, checked below.
        if (sc.op === 'remove' && (await current()) === undefined) {
          const req = AddDynamicConfigRequest.fromPartial({ name: 'crash', hosts: [`setup${i}.home.lan`], service: { urls: ['http://10.0.0.9:80'] } });
          const planned = await shard.call(shard.client.addDynamicConfig, req);
          await shard.call(shard.client.addDynamicConfig, { ...req, planId: planned.plan!.id });
        }
        const old = await current();
        const req = sc.op === 'remove'
          ? RemoveDynamicConfigRequest.fromPartial({ name: 'crash' })
          : AddDynamicConfigRequest.fromPartial({ name: 'crash', hosts: [`v${i}.home.lan`], service: { urls: ['http://10.0.0.9:80'] }, ...(sc.op === 'add-rejected' ? { middlewares: ['missing@file'] } : {}) });
        const method = (sc.op === 'remove' ? shard.client.removeDynamicConfig : shard.client.addDynamicConfig) as Call<typeof req, { plan?: { id: string; changes: { after: string }[] } }>;
        const planned = await shard.call(method, req);
        const planId = planned.plan!.id;
        const target = sc.op === 'remove' ? undefined : planned.plan!.changes[0]!.after;

        if (sc.kill === 'random') {
          const victim = shard;
          void victim.reached('confirming').then(() => setTimeout(() => victim.proc.kill('SIGKILL'), Math.floor(Math.random() * 400)));
        } else {
          await shard.arm(sc.kill);
        }
        const applied = await shard.call(method, { ...req, planId }).then(() => 'applied', (e: grpc.ServiceError) => e.code);
        if (sc.kill !== 'random') expect(applied).toBe(grpc.status.UNAVAILABLE);
        if (applied === 'applied') shard.proc.kill('SIGKILL');
        expect(await shard.exited).toBe('SIGKILL');
        shard.client.close();
        if (sc.kill === 'journaled') {
          // The journal is the shard's own (0600) and Traefik never reads it as configuration.
          expect((await stat(journal)).mode & 0o777).toBe(0o600);
          await sim.reload();
          expect(sim.lastError()).toBeUndefined();
        }

        shard = await ShardProcess.start(env, creds);
        const list = await settled(shard);
        const now = await current();
        const record: InterruptedChange | undefined = list.interruptedChanges.find((c) => c.planId === planId);
        const label = `run ${i} (${sc.op}, killed at ${sc.kill}${applied === 'applied' ? ' after it answered' : ''})`;
        const tally = record ? RecoveryOutcome[record.outcome] : `no journal, ${now === old ? 'old' : 'new'} state`;
        outcomes[tally] = (outcomes[tally] ?? 0) + 1;

        // Never half-written, never unconfirmed: the old state, or the new one that Traefik serves.
        expect([label, now === old || now === target]).toEqual([label, true]);
        expect((await readdir(sim.dynamicDir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
        expect((await readdir(join(sim.dynamicDir, '.mcp-state'))).filter((n) => n !== 'recoveries.json')).toEqual([]);
        if (now === target && now !== old) {
          const router = await served();
          expect([label, target === undefined ? router : { rule: router?.rule, status: router?.status }]).toEqual([label, target === undefined ? undefined : { rule: ruleOf(target), status: 'enabled' }]);
        } else {
          await until(`Traefik to serve the old state again after ${label}`, async () => (await served())?.rule === ruleOf(old));
        }

        // What the shard did is there for a later call, and matches the disk.
        const expected: Partial<Record<Stage, RecoveryOutcome | undefined>> = {
          begin: undefined,
          journaled: RecoveryOutcome.RECOVERY_OUTCOME_UNCHANGED,
          written: sc.op === 'add-rejected' ? RecoveryOutcome.RECOVERY_OUTCOME_ROLLED_BACK : RecoveryOutcome.RECOVERY_OUTCOME_COMPLETED,
          confirming: sc.op === 'add-rejected' ? RecoveryOutcome.RECOVERY_OUTCOME_ROLLED_BACK : RecoveryOutcome.RECOVERY_OUTCOME_COMPLETED,
          confirmed: RecoveryOutcome.RECOVERY_OUTCOME_COMPLETED,
          'rolled-back': RecoveryOutcome.RECOVERY_OUTCOME_UNCHANGED,
          settled: undefined,
        };
        if (sc.kill in expected) expect([label, record?.outcome]).toEqual([label, expected[sc.kill as Stage]]);
        if (record) {
          expect(record).toMatchObject({ name: 'crash', file: 'mcp-crash.yml', detail: expect.any(String) });
          expect(record.settledAt).toBeDefined();
          const completed = record.outcome === RecoveryOutcome.RECOVERY_OUTCOME_COMPLETED;
          expect([label, completed]).toEqual([label, now === target && now !== old]);
        }
        await expect(lstat(journal)).rejects.toMatchObject({ code: 'ENOENT' });
      }
    } finally {
      await shard.stop();
    }
    console.log(`${scenarios.length} applies killed with SIGKILL; after each restart: ${JSON.stringify(outcomes)}`);
  }, 600_000);

  it('leaves alone a file changed since, and ignores a journal that names a file the shard does not own', async () => {
    const mark = '# managed-by: homelab-mcp shard-traefik\n';
    const state = join(sim.dynamicDir, '.mcp-state');
    const journal = (entry: object) => writeFile(join(state, 'journal.json'), JSON.stringify({ planId: 'p1', name: 'other', file: 'mcp-other.yml', before: null, after: `${mark}# planned\n`, startedAt: new Date().toISOString(), ...entry }));
    await mkdir(state, { recursive: true });
    const handEdited = `${mark}# edited by hand since\n`;
    await writeFile(join(sim.dynamicDir, 'mcp-other.yml'), handEdited);
    await journal({});
    let shard = await ShardProcess.start(env, creds);
    try {
      const list = await settled(shard);
      const record = list.interruptedChanges.find((c) => c.planId === 'p1');
      expect(record).toMatchObject({ outcome: RecoveryOutcome.RECOVERY_OUTCOME_LEFT_ALONE, detail: expect.stringContaining('changed by someone else') });
      expect(await readFile(join(sim.dynamicDir, 'mcp-other.yml'), 'utf8')).toBe(handEdited);
      await shard.stop();

      // Undoing this "apply" would write the planted content over a file outside the directory.
      const victim = join(dir, 'victim.yml');
      await writeFile(victim, `${mark}# the victim\n`);
      await journal({ planId: 'p2', name: 'x', file: '../victim.yml', after: `${mark}# the victim\n`, before: `${mark}# planted\n` });
      shard = await ShardProcess.start(env, creds);
      const after = await settled(shard);
      expect(after.interruptedChanges.map((c) => c.planId)).not.toContain('p2');
      expect(await readFile(victim, 'utf8')).toBe(`${mark}# the victim\n`);
      expect(shard.logs.some((l) => l.msg === 'the journal does not describe a file this shard writes: ignored it')).toBe(true);
    } finally {
      await shard.stop();
      await rm(join(sim.dynamicDir, 'mcp-other.yml'), { force: true });
    }
  });
});
