import { constants } from 'node:fs';
import { access, opendir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import * as yaml from 'js-yaml';
import type { Logger } from 'pino';
import { PlanBook, ShardError, toTimestamp } from '@homelab-mcp/shard-kit';
import type { Plan } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import { ChangeKind } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import type { ApiRouter, TraefikApi } from '../upstream/traefik-api.js';
import { readRegularFile, scanDirectory, TEMP_FILE, writeFileAtomic, type ScanLimits, type Skipped } from './files.js';
import { NAME, type RouteFile } from './model.js';

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

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The shard's own files in Traefik's file-provider directory: planned, written
 * atomically, confirmed through Traefik's API and rolled back when Traefik
 * does not load them. Writes are serialized.
 */
export class DynamicStore {
  private readonly plans = new PlanBook<Change>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly api: TraefikApi,
    private readonly confirmTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

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

  /** Removes temporary files a crash may have left (they never carry a .yml extension). */
  async cleanup(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.startsWith(`.${PREFIX}`) && TEMP_FILE.test(n)).map((n) => unlink(join(this.dir, n)).catch(() => undefined)));
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
    const skipped = await scanDirectory(this.dir, {
      limits: SCAN_LIMITS,
      wanted: (rel) => /\.ya?ml$/i.test(rel),
      ignore: (rel) => rel === ownFile || TEMP_FILE.test(rel),
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

  private plan(change: Change, request: object, summary: string): Plan {
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

  async planAdd(name: string, route: RouteFile, request: object): Promise<{ plan: Plan; skipped: Skipped[] }> {
    const file = this.fileName(name);
    const before = await this.readOwn(file);
    if (before !== undefined && !before.startsWith(MANAGED_MARK)) {
      throw new ShardError('FAILED_PRECONDITION', `${file} exists and was not written by homelab-mcp; it is left alone`, { reason: 'NOT_MANAGED', hint: 'Pick another name.' });
    }
    const { names: foreign, skipped } = await this.foreignNames(file);
    const clash = [...Object.keys(route.http.routers), ...Object.keys(route.http.services), ...Object.keys(route.http.middlewares ?? {})].filter((n) => foreign.has(n));
    if (clash.length) throw new ShardError('ALREADY_EXISTS', `another file in ${this.dir} already defines ${clash.join(', ')}; Traefik would ignore this route`, { reason: 'NAME_TAKEN', hint: 'Pick another name.' });
    const content = HEADER + yaml.dump(route, { lineWidth: -1, noRefs: true, sortKeys: false });
    const plan = this.plan({ name, file, content, before }, request, before === undefined ? `create ${file}: route ${Object.values(route.http.routers)[0]?.rule as string} to ${name}` : `update ${file}`);
    return { plan, skipped };
  }

  async planRemove(name: string, request: object): Promise<Plan> {
    const file = this.fileName(name);
    const before = await this.readOwn(file);
    if (before === undefined) throw new ShardError('NOT_FOUND', `there is no managed route "${name}" (${file})`, { hint: 'list_dynamic_configs shows the routes this gateway manages.' });
    if (!before.startsWith(MANAGED_MARK)) throw new ShardError('FAILED_PRECONDITION', `${file} was not written by homelab-mcp; it is left alone`, { reason: 'NOT_MANAGED' });
    return this.plan({ name, file, content: undefined, before }, request, `remove ${file} (router ${name}@file)`);
  }

  /** Applies a plan: serialized, atomic, confirmed by Traefik, rolled back when not. */
  apply(planId: string, request: object, signal: AbortSignal): Promise<{ change: Change; router?: ApiRouter }> {
    const change = this.plans.take(planId, request);
    const run = async () => {
      await this.requireWritable();
      const current = await this.readOwn(change.file);
      if (current !== change.before) {
        throw new ShardError('ABORTED', `${change.file} changed since the plan was made`, { reason: 'PLAN_STALE', hint: 'Plan again.' });
      }
      await this.write(change.file, change.content);
      try {
        const router = await this.confirm(change, signal);
        return { change, ...(router ? { router } : {}) };
      } catch (err) {
        await this.write(change.file, change.before).catch((e: unknown) => this.logger.error({ err: e, file: change.file }, 'rollback failed'));
        this.logger.warn({ file: change.file, err: errorText(err) }, 'Traefik did not accept the change: rolled back');
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private write(file: string, content: string | undefined): Promise<void> {
    return writeFileAtomic(this.dir, file, content);
  }

  private async confirm(change: Change, signal: AbortSignal): Promise<ApiRouter | undefined> {
    const name = `${change.name}@file`;
    const rule = change.content === undefined ? undefined : (yaml.load(change.content) as RouteFile).http.routers[change.name]?.rule;
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
        doc = (yaml.load(text) ?? {}) as RouteFile;
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
