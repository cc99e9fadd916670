import type * as Diff from 'diff';
import type * as JsYaml from 'js-yaml';
import { constants } from 'node:fs';
import { access, opendir, stat, unlink, watch } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PlanBook, ShardError, toTimestamp, type PlanRequest } from '@homelab-mcp/shard-kit';
import type { Plan } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import { ChangeKind } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import type { ApiRouter, TraefikApi } from '../upstream/traefik-api.js';
import { readRegularFile, scanDirectory, TEMP_FILE, writeFileAtomic, type ScanLimits, type Skipped } from './files.js';
import { Journal, STATE_DIR, type JournalEntry, type RecoveryRecord } from './journal.js';
import { NAME, type RouteFile } from './model.js';

/** js-yaml and diff serve changes only: a shard that only reads routes never loads them (a few MiB of its idle memory). */
let yamlModule: Promise<typeof JsYaml> | undefined;
let diffModule: Promise<typeof Diff> | undefined;
const loadYaml = (): Promise<typeof JsYaml> => (yamlModule ??= import('js-yaml'));
const loadDiff = (): Promise<typeof Diff> => (diffModule ??= import('diff'));

/** The first line of every file this shard writes; files without it are never touched. */
export const MANAGED_MARK = '# managed-by: homelab-mcp shard-traefik';
const HEADER = `${MANAGED_MARK}\n# Written by homelab-mcp; edit through add_dynamic_config / remove_dynamic_config.\n`;
const PREFIX = 'mcp-';

/**
 * Bounds of the look at the other files of the directory before a route is
 * planned (names they define would make Traefik skip ours). A homelab's
 * directory is a few files of a few KiB; these keep a hostile one from
 * costing more than a fraction of a second.
 */
export const SCAN_LIMITS: ScanLimits = { maxDepth: 8, maxEntries: 10_000, maxFileBytes: 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 };
/** The shard's own files are small; anything larger was not written by it. */
const MAX_OWN_FILE_BYTES = 1024 * 1024;

interface Change {
  planId: string;
  name: string;
  file: string;
  /** New content, or undefined to remove the file. */
  content: string | undefined;
  before: string | undefined;
}

export interface ManagedFile {
  name: string;
  file: string;
  routers: string[];
  services: string[];
  middlewares: string[];
  modifiedAt: Date;
  size: number;
}

/** The stages of an apply, logged at debug level (`stage`) as they are passed. */
export type ApplyStage = 'begin' | 'journaled' | 'written' | 'confirming' | 'confirmed' | 'rolled-back' | 'settled';

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

const kindOf = (before: string | null | undefined, after: string | null | undefined): RecoveryRecord['kind'] => (before == null ? 'create' : after == null ? 'delete' : 'update');
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The shard's own files in Traefik's file-provider directory: planned, written
 * atomically, confirmed through Traefik's API and rolled back when Traefik
 * does not load them. Writes are serialized. Each apply is journaled before
 * the file is written, so an apply cut short by a crash is finished or undone
 * at the next start (recover()).
 */
export class DynamicStore {
  private readonly plans = new PlanBook<Omit<Change, 'planId'>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly journal: Journal;
  private recovering: RecoveryRecord | undefined;
  private unsettled: RecoveryRecord | undefined;
  private recovered: Promise<void> = Promise.resolve();
  private journalChecked: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly api: TraefikApi,
    private readonly confirmTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.journal = new Journal(dir);
  }

  fileName(name: string): string {
    if (!NAME.test(name)) throw new ShardError('INVALID_ARGUMENT', `name "${name}" must be lowercase letters, digits and dashes`, { fieldViolations: [{ field: 'name', description: 'lowercase letters, digits and dashes' }] });
    return `${PREFIX}${name}.yml`;
  }

  /** Why the directory cannot be written, or undefined when it can. */
  async problem(): Promise<string | undefined> {
    try {
      await access(this.dir, constants.W_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? `the dynamic directory ${this.dir} does not exist` : `the dynamic directory ${this.dir} is not writable (${code})`;
    }
  }

  private async requireWritable(): Promise<void> {
    const p = await this.problem();
    if (p) throw new ShardError('FAILED_PRECONDITION', p, { reason: 'DYNAMIC_DIR_UNAVAILABLE', hint: 'Mount Traefik\'s file-provider directory read-write into shard-traefik (TRAEFIK_DYNAMIC_DIR).' });
  }

  private stage(stage: ApplyStage, change: Change, msg: string): void {
    this.logger.debug({ stage, planId: change.planId, file: change.file }, msg);
  }

  /** Runs fn after every write before it (and the recovery), one at a time. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Removes temporary files a crash may have left (they never carry a .yml
   * extension), then settles an apply the journal says was not confirmed.
   * Returns at once; writes and plans wait for it, list() shows it pending.
   */
  start(): Promise<void> {
    let checked!: () => void;
    this.journalChecked = new Promise<void>((resolve) => (checked = resolve));
    this.recovered = this.serialized(() => this.recover(checked))
      .catch((err: unknown) => this.logger.error({ err }, 'could not check for an interrupted apply'))
      .finally(checked);
    return this.recovered;
  }

  /** Settles an apply the journal holds; calls `checked` once the journal is read (before waiting for Traefik). */
  private async recover(checked: () => void): Promise<void> {
    if (await this.problem()) return;
    const names: string[] = [];
    for await (const e of await opendir(this.dir)) if (e.name.startsWith(`.${PREFIX}`) && TEMP_FILE.test(e.name)) names.push(e.name);
    await Promise.all(names.map((n) => unlink(join(this.dir, n)).catch(() => undefined)));
    await this.journal.prepare();
    const entry = await this.journal.pending();
    if (!entry) return;
    // Anyone who can write the directory can write the journal: act only on one that names a file of this shard.
    if (!NAME.test(entry.name) || entry.file !== `${PREFIX}${entry.name}.yml` || ![entry.before, entry.after].every((c) => c === null || c.startsWith(MANAGED_MARK))) {
      this.logger.error({ file: entry.file }, 'the journal does not describe a file this shard writes: ignored it');
      return this.journal.end();
    }
    // Settled before, then stopped before the journal was cleared.
    if ((await this.journal.records()).some((r) => r.planId === entry.planId)) return this.journal.end();
    const record: RecoveryRecord = {
      planId: entry.planId, name: entry.name, file: entry.file, kind: kindOf(entry.before, entry.after), startedAt: entry.startedAt,
      outcome: 'pending', detail: `checking whether Traefik serves ${entry.name}@file`,
    };
    this.recovering = record;
    checked();
    this.logger.warn({ planId: entry.planId, file: entry.file, startedAt: entry.startedAt }, 'an apply was interrupted before Traefik confirmed it: finishing or undoing it');
    try {
      const settled = { ...record, ...(await this.settle(entry)), settledAt: new Date().toISOString() };
      await this.journal.record(settled);
      await this.journal.end();
      this.unsettled = undefined;
      this.logger.warn({ planId: entry.planId, file: entry.file, outcome: settled.outcome, detail: settled.detail }, `interrupted apply of ${entry.file}: ${settled.outcome}`);
    } catch (err) {
      this.unsettled = { ...record, outcome: 'failed', detail: `could not settle it (${errorText(err)}); the shard tries again at its next start`, settledAt: new Date().toISOString() };
      this.logger.error({ err, planId: entry.planId, file: entry.file }, 'could not settle an interrupted apply');
    } finally {
      this.recovering = undefined;
    }
  }

  private async settle(entry: JournalEntry): Promise<Pick<RecoveryRecord, 'outcome' | 'detail'>> {
    const before = entry.before ?? undefined;
    const after = entry.after ?? undefined;
    const current = await this.readOwn(entry.file).catch((err: unknown) => ({ refused: errorText(err) }));
    if (typeof current === 'object') return { outcome: 'left-alone', detail: `${current.refused}; it was left as it is` };
    const change: Change = { planId: entry.planId, name: entry.name, file: entry.file, content: after, before };
    if (current === after) {
      try {
        await this.confirm(change, new AbortController().signal);
        return { outcome: 'completed', detail: after === undefined ? `the file was removed and Traefik no longer serves ${entry.name}@file: the removal stands` : `the new file was in place and Traefik serves ${entry.name}@file: the change stands` };
      } catch (err) {
        await this.write(entry.file, before);
        return { outcome: 'rolled-back', detail: `${errorText(err).replace(/; the previous state was restored$/, '')}: ${before === undefined ? 'removed the new file' : 'restored the previous content'}` };
      }
    }
    if (current === before) return { outcome: 'unchanged', detail: 'the file had its previous content: nothing was changed' };
    return { outcome: 'left-alone', detail: 'the file has been changed by someone else since: it was left as it is' };
  }

  /** The recovery of an interrupted apply in progress, the one that failed, and those settled, newest first. */
  async recoveries(): Promise<RecoveryRecord[]> {
    await this.journalChecked;
    const settled = await this.journal.records();
    return [this.recovering, this.unsettled, ...settled].filter((r): r is RecoveryRecord => r !== undefined);
  }

  /**
   * One of this shard's files: a regular file (never followed through a link,
   * never a FIFO or device) of a bounded size, or undefined when it is absent.
   */
  private async readOwn(file: string): Promise<string | undefined> {
    const res = await readRegularFile(join(this.dir, file), MAX_OWN_FILE_BYTES);
    if (res && 'skipped' in res) throw new ShardError('FAILED_PRECONDITION', `${file} is ${res.skipped}, not a file homelab-mcp wrote; it is left alone`, { reason: 'NOT_MANAGED', hint: 'Pick another name, or remove that entry from the dynamic directory.' });
    return res?.text;
  }

  /**
   * Names defined by the other files of the directory, to refuse collisions
   * (Traefik would skip ours), and the entries that were not looked at.
   */
  private async foreignNames(ownFile: string): Promise<{ names: Set<string>; skipped: Skipped[] }> {
    const names = new Set<string>();
    const yaml = await loadYaml();
    const skipped = await scanDirectory(this.dir, {
      limits: SCAN_LIMITS,
      wanted: (rel) => /\.ya?ml$/i.test(rel),
      ignore: (rel) => rel === ownFile || rel === STATE_DIR || TEMP_FILE.test(rel),
    }, (_rel, text) => {
      try {
        const doc = yaml.load(text, { maxAliases: 100 }) as { http?: Record<string, Record<string, unknown>> } | undefined;
        for (const section of ['routers', 'services', 'middlewares']) for (const k of Object.keys(doc?.http?.[section] ?? {})) names.add(k);
      } catch {
        // not ours, not parseable: Traefik will complain about it, not us
      }
    });
    return { names, skipped };
  }

  private async plan(change: Omit<Change, 'planId'>, request: PlanRequest, summary: string): Promise<Plan> {
    const { createTwoFilesPatch } = await loadDiff();
    const { id, expiresAt } = this.plans.create(request, change);
    const noOp = change.before === change.content;
    const diff = createTwoFilesPatch(change.before === undefined ? '/dev/null' : change.file, change.content === undefined ? '/dev/null' : change.file, change.before ?? '', change.content ?? '', '', '', { context: 3 });
    const kind = change.before === undefined ? ChangeKind.CHANGE_KIND_CREATE : change.content === undefined ? ChangeKind.CHANGE_KIND_DELETE : ChangeKind.CHANGE_KIND_UPDATE;
    return {
      id,
      summary: noOp ? `${change.file} already has this content: nothing to change` : summary,
      diff,
      changes: [{ path: change.file, before: change.before ?? '', after: change.content ?? '', kind }],
      expiresAt: toTimestamp(expiresAt),
      noOp,
    };
  }

  async planAdd(name: string, route: RouteFile, request: PlanRequest): Promise<{ plan: Plan; skipped: Skipped[] }> {
    await this.recovered;
    const file = this.fileName(name);
    const before = await this.readOwn(file);
    if (before !== undefined && !before.startsWith(MANAGED_MARK)) {
      throw new ShardError('FAILED_PRECONDITION', `${file} exists and was not written by homelab-mcp; it is left alone`, { reason: 'NOT_MANAGED', hint: 'Pick another name.' });
    }
    const { names: foreign, skipped } = await this.foreignNames(file);
    const clash = [...Object.keys(route.http.routers), ...Object.keys(route.http.services), ...Object.keys(route.http.middlewares ?? {})].filter((n) => foreign.has(n));
    if (clash.length) throw new ShardError('ALREADY_EXISTS', `another file in ${this.dir} already defines ${clash.join(', ')}; Traefik would ignore this route`, { reason: 'NAME_TAKEN', hint: 'Pick another name.' });
    const content = HEADER + (await loadYaml()).dump(route, { lineWidth: -1, noRefs: true, sortKeys: false });
    const plan = await this.plan({ name, file, content, before }, request, before === undefined ? `create ${file}: route ${Object.values(route.http.routers)[0]?.rule as string} to ${name}` : `update ${file}`);
    return { plan, skipped };
  }

  async planRemove(name: string, request: PlanRequest): Promise<Plan> {
    await this.recovered;
    const file = this.fileName(name);
    const before = await this.readOwn(file);
    if (before === undefined) throw new ShardError('NOT_FOUND', `there is no managed route "${name}" (${file})`, { hint: 'list_dynamic_configs shows the routes this gateway manages.' });
    if (!before.startsWith(MANAGED_MARK)) throw new ShardError('FAILED_PRECONDITION', `${file} was not written by homelab-mcp; it is left alone`, { reason: 'NOT_MANAGED' });
    return this.plan({ name, file, content: undefined, before }, request, `remove ${file} (router ${name}@file)`);
  }

  /**
   * Applies a plan: serialized, journaled, atomic, confirmed by Traefik,
   * rolled back when not. The journal entry is written before the file and
   * cleared only once the change is confirmed or undone.
   */
  apply(planId: string, request: PlanRequest, signal: AbortSignal): Promise<{ change: Change; router?: ApiRouter }> {
    const change: Change = { ...this.plans.take(planId, request), planId };
    return this.serialized(async () => {
      this.stage('begin', change, 'applying a plan');
      await this.requireWritable();
      const current = await this.readOwn(change.file);
      if (current !== change.before) {
        throw new ShardError('ABORTED', `${change.file} changed since the plan was made`, { reason: 'PLAN_STALE', hint: 'Plan again.' });
      }
      await this.journal.begin({ planId, name: change.name, file: change.file, before: change.before ?? null, after: change.content ?? null, startedAt: new Date().toISOString() });
      this.stage('journaled', change, 'journaled the change');
      let router: ApiRouter | undefined;
      try {
        await this.write(change.file, change.content);
        this.stage('written', change, 'wrote the file');
        this.stage('confirming', change, 'waiting for Traefik');
        router = await this.confirm(change, signal);
        this.stage('confirmed', change, 'Traefik serves the change');
      } catch (err) {
        // Undone only when the previous state is back; else the journal stays for the next start to settle.
        await this.write(change.file, change.before).then(
          async () => {
            this.stage('rolled-back', change, 'restored the previous state');
            await this.journal.end();
          },
          (e: unknown) => this.logger.error({ err: e, file: change.file }, 'rollback failed; the next start settles it'),
        );
        this.logger.warn({ file: change.file, err: errorText(err) }, 'the change was not confirmed: rolled back');
        throw err;
      }
      await this.journal.end().catch((err: unknown) => this.logger.error({ err, file: change.file }, 'could not clear the journal; the next start finds the change confirmed'));
      this.stage('settled', change, 'applied');
      return { change, ...(router ? { router } : {}) };
    });
  }

  private write(file: string, content: string | undefined): Promise<void> {
    return writeFileAtomic(this.dir, file, content);
  }

  private async confirm(change: Change, signal: AbortSignal): Promise<ApiRouter | undefined> {
    const name = `${change.name}@file`;
    const rule = change.content === undefined ? undefined : ((await loadYaml()).load(change.content) as RouteFile).http.routers[change.name]?.rule;
    const deadline = Date.now() + this.confirmTimeoutMs;
    let last: ApiRouter | undefined;
    while (Date.now() < deadline && !signal.aborted) {
      last = await this.api.find<ApiRouter>('http/routers', name, signal);
      if (change.content === undefined ? !last : last?.status === 'enabled' && last.rule === rule) return last;
      if (last?.status === 'disabled' && last.rule === rule) {
        throw new ShardError('FAILED_PRECONDITION', `Traefik loaded ${name} but disabled it: ${(last.error ?? []).join('; ')}`, { reason: 'TRAEFIK_REJECTED', hint: 'Fix what Traefik names (e.g. create the middleware first) and plan again. The previous state was restored.' });
      }
      await sleep(250, signal);
    }
    throw new ShardError('FAILED_PRECONDITION', change.content === undefined
      ? `Traefik still serves ${name} ${Math.round(this.confirmTimeoutMs / 1000)} s after its file was removed`
      : `Traefik did not load ${name} within ${Math.round(this.confirmTimeoutMs / 1000)} s; the previous state was restored`, {
      reason: 'TRAEFIK_NOT_LOADED',
      hint: 'Traefik stops loading the whole directory when any file in it is invalid: check Traefik\'s log for "Error while building configuration" and fix that file.',
    });
  }

  /** The content of the shard's file for a route, or undefined when it has none (a file without the mark is not its file). */
  async read(name: string): Promise<string | undefined> {
    const text = await this.readOwn(this.fileName(name));
    return text?.startsWith(MANAGED_MARK) ? text : undefined;
  }

  /**
   * Yields each time the file of a route is written, renamed into place or
   * removed. The directory is watched, not the file: an atomic write replaces
   * the file's inode, which a watch on the file would lose.
   */
  async *changes(name: string, signal: AbortSignal): AsyncGenerator<void> {
    const file = this.fileName(name);
    try {
      for await (const event of watch(this.dir, { signal })) if (event.filename === file) yield;
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  }

  /** The shard's files at the top of the directory (links, FIFOs and oversized entries are not its files). */
  async list(): Promise<ManagedFile[]> {
    const names: string[] = [];
    let seen = 0;
    for await (const e of await opendir(this.dir).catch(() => [] as never[])) {
      if (++seen > SCAN_LIMITS.maxEntries) break;
      if (e.isFile() && e.name.startsWith(PREFIX) && e.name.endsWith('.yml')) names.push(e.name);
    }
    const out: ManagedFile[] = [];
    for (const file of names.sort()) {
      const text = await this.readOwn(file).catch(() => undefined);
      if (!text?.startsWith(MANAGED_MARK)) continue;
      let doc: RouteFile;
      try {
        doc = ((await loadYaml()).load(text) ?? {}) as RouteFile;
      } catch {
        continue;
      }
      const st = await stat(join(this.dir, file)).catch(() => undefined);
      if (!st) continue;
      out.push({
        name: file.slice(PREFIX.length, -'.yml'.length),
        file,
        routers: Object.keys(doc.http?.routers ?? {}),
        services: Object.keys(doc.http?.services ?? {}),
        middlewares: Object.keys(doc.http?.middlewares ?? {}),
        modifiedAt: st.mtime,
        size: st.size,
      });
    }
    return out;
  }
}
