import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import * as yaml from 'js-yaml';
import type { Logger } from 'pino';
import { PlanBook, ShardError, toTimestamp } from '@homelab-mcp/shard-kit';
import type { Plan } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import { ChangeKind } from '@homelab-mcp/proto/ts/homelab/mcp/v1/plan.js';
import type { ApiRouter, TraefikApi } from '../upstream/traefik-api.js';
import { NAME, type RouteFile } from './model.js';

/** The first line of every file this shard writes; files without it are never touched. */
export const MANAGED_MARK = '# managed-by: homelab-mcp shard-traefik';
const HEADER = `${MANAGED_MARK}\n# Written by homelab-mcp; edit through add_dynamic_config / remove_dynamic_config.\n`;
const PREFIX = 'mcp-';

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

/**
 * Replaces (or removes) a file so that Traefik sees either the old or the new
 * version, never a partial one: temp file without a .yml extension (Traefik
 * ignores it) -> fsync -> rename -> fsync of the directory.
 */
export async function writeFileAtomic(dir: string, file: string, content: string | undefined): Promise<void> {
  const target = join(dir, file);
  if (content === undefined) {
    await unlink(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  } else {
    const tmp = join(dir, `.${file}.tmp-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

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
    const names = await readdir(this.dir).catch(() => []);
    await Promise.all(names.filter((n) => /^\.mcp-.*\.tmp-[0-9a-f]+$/.test(n)).map((n) => unlink(join(this.dir, n)).catch(() => undefined)));
  }

  private async read(file: string): Promise<string | undefined> {
    return readFile(join(this.dir, file), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }

  /** Names defined by files this shard does not own, to refuse collisions (Traefik would skip ours). */
  private async foreignNames(): Promise<Set<string>> {
    const names = new Set<string>();
    const entries = await readdir(this.dir, { recursive: true }).catch(() => [] as string[]);
    for (const rel of entries) {
      if (!/\.ya?ml$/i.test(rel) || rel.startsWith(PREFIX)) continue;
      const text = await readFile(join(this.dir, rel), 'utf8').catch(() => '');
      try {
        const doc = yaml.load(text) as { http?: Record<string, Record<string, unknown>> } | undefined;
        for (const section of ['routers', 'services', 'middlewares']) for (const k of Object.keys(doc?.http?.[section] ?? {})) names.add(k);
      } catch {
        // not ours, not parseable: Traefik will complain about it, not us
      }
    }
    return names;
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

  async planAdd(name: string, route: RouteFile, request: object): Promise<Plan> {
    const file = this.fileName(name);
    const before = await this.read(file);
    if (before !== undefined && !before.startsWith(MANAGED_MARK)) {
      throw new ShardError('FAILED_PRECONDITION', `${file} exists and was not written by homelab-mcp; it is left alone`, { reason: 'NOT_MANAGED', hint: 'Pick another name.' });
    }
    const foreign = await this.foreignNames();
    const clash = [...Object.keys(route.http.routers), ...Object.keys(route.http.services), ...Object.keys(route.http.middlewares ?? {})].filter((n) => foreign.has(n));
    if (clash.length) throw new ShardError('ALREADY_EXISTS', `another file in ${this.dir} already defines ${clash.join(', ')}; Traefik would ignore this route`, { reason: 'NAME_TAKEN', hint: 'Pick another name.' });
    const content = HEADER + yaml.dump(route, { lineWidth: -1, noRefs: true, sortKeys: false });
    return this.plan({ name, file, content, before }, request, before === undefined ? `create ${file}: route ${Object.values(route.http.routers)[0]?.rule as string} to ${name}` : `update ${file}`);
  }

  async planRemove(name: string, request: object): Promise<Plan> {
    const file = this.fileName(name);
    const before = await this.read(file);
    if (before === undefined) throw new ShardError('NOT_FOUND', `there is no managed route "${name}" (${file})`, { hint: 'list_dynamic_configs shows the routes this gateway manages.' });
    if (!before.startsWith(MANAGED_MARK)) throw new ShardError('FAILED_PRECONDITION', `${file} was not written by homelab-mcp; it is left alone`, { reason: 'NOT_MANAGED' });
    return this.plan({ name, file, content: undefined, before }, request, `remove ${file} (router ${name}@file)`);
  }

  /** Applies a plan: serialized, atomic, confirmed by Traefik, rolled back when not. */
  apply(planId: string, request: object, signal: AbortSignal): Promise<{ change: Change; router?: ApiRouter }> {
    const change = this.plans.take(planId, request);
    const run = async () => {
      await this.requireWritable();
      const current = await this.read(change.file);
      if (current !== change.before) {
        throw new ShardError('ABORTED', `${change.file} changed since the plan was made`, { reason: 'PLAN_STALE', hint: 'Plan again.' });
      }
      await this.write(change.file, change.content);
      try {
        const router = await this.confirm(change, signal);
        return { change, ...(router ? { router } : {}) };
      } catch (err) {
        await this.write(change.file, change.before).catch((e: unknown) => this.logger.error({ err: e, file: change.file }, 'rollback failed'));
        this.logger.warn({ file: change.file, err: (err as Error).message }, 'Traefik did not accept the change: rolled back');
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
    const deadline = Date.now() + this.confirmTimeoutMs;
    let last: ApiRouter | undefined;
    while (Date.now() < deadline && !signal.aborted) {
      last = await this.api.find<ApiRouter>('http/routers', name, signal);
      if (change.content === undefined ? !last : last?.status === 'enabled' && last.rule === (yaml.load(change.content) as RouteFile).http.routers[change.name]?.rule) return last;
      if (last?.status === 'disabled' && last.rule === (change.content ? (yaml.load(change.content) as RouteFile).http.routers[change.name]?.rule : undefined)) {
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

  async list(): Promise<ManagedFile[]> {
    const names = (await readdir(this.dir).catch(() => [])).filter((n) => n.startsWith(PREFIX) && n.endsWith('.yml')).sort();
    const out: ManagedFile[] = [];
    for (const file of names) {
      const text = await this.read(file);
      if (!text?.startsWith(MANAGED_MARK)) continue;
      const doc = (yaml.load(text) ?? {}) as RouteFile;
      const st = await stat(join(this.dir, file));
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
