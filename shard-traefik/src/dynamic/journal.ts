import { chmod, lstat, mkdir, opendir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readRegularFile, syncDirectory, TEMP_FILE, writeFileAtomic } from './files.js';

/**
 * Where the shard keeps its journal: a subdirectory of the dynamic directory.
 * It is the one place the shard can write in its deployment (read-only root
 * file system), it survives the container, and it is on the same file system
 * as the files it protects. Traefik descends into subdirectories but reads
 * only .yml, .yaml and .toml files, so it never parses these .json files; the
 * directory stays readable (0755) because Traefik fails the whole directory
 * on one it cannot list, while the files in it are the shard's alone (0600).
 * Traefik watches only the top directory, so journal writes do not wake it.
 */
export const STATE_DIR = '.mcp-state';
const JOURNAL = 'journal.json';
const RECORDS = 'recoveries.json';
/** How many settled recoveries list_dynamic_configs keeps showing. */
export const KEPT_RECORDS = 20;
const MAX_STATE_BYTES = 8 * 1024 * 1024;

const journalEntry = z.object({
  planId: z.string(),
  name: z.string(),
  file: z.string(),
  before: z.string().nullable(),
  after: z.string().nullable(),
  startedAt: z.string(),
});
/** An apply in flight: enough to finish it or undo it after a crash. */
export type JournalEntry = z.infer<typeof journalEntry>;

export const OUTCOMES = ['pending', 'completed', 'rolled-back', 'unchanged', 'left-alone', 'failed'] as const;
const recoveryRecord = z.object({
  planId: z.string(),
  name: z.string(),
  file: z.string(),
  kind: z.enum(['create', 'update', 'delete']),
  startedAt: z.string(),
  settledAt: z.string().optional(),
  outcome: z.enum(OUTCOMES),
  detail: z.string(),
});
/** What the shard did on start with an apply it had not confirmed. */
export type RecoveryRecord = z.infer<typeof recoveryRecord>;

export class JournalError extends Error {
  override readonly name = 'JournalError';
}

/** The journal of the apply in flight and the record of recoveries, in STATE_DIR. */
export class Journal {
  readonly dir: string;

  constructor(dynamicDir: string) {
    this.dir = join(dynamicDir, STATE_DIR);
  }

  /** Creates the state directory; refuses one that is a link or not a directory. */
  async prepare(): Promise<void> {
    const created = await mkdir(this.dir).then(() => true, (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      return false;
    });
    // Not left to the umask: a directory Traefik cannot list makes it drop the whole file provider.
    if (created) await chmod(this.dir, 0o755);
    const st = await lstat(this.dir);
    if (!st.isDirectory()) throw new JournalError(`${this.dir} is not a directory (${st.isSymbolicLink() ? 'a symbolic link' : 'a file'}); remove it so the shard can keep its journal there`);
    const dir = await opendir(this.dir);
    for await (const e of dir) if (TEMP_FILE.test(e.name)) await unlink(join(this.dir, e.name)).catch(() => undefined);
  }

  private async readJson(file: string): Promise<unknown> {
    const res = await readRegularFile(join(this.dir, file), MAX_STATE_BYTES);
    if (!res) return undefined;
    if ('skipped' in res) throw new JournalError(`${join(this.dir, file)} is ${res.skipped}`);
    try {
      return JSON.parse(res.text);
    } catch {
      throw new JournalError(`${join(this.dir, file)} is not valid JSON`);
    }
  }

  /** Writes the entry durably before the change it describes is made. */
  begin(entry: JournalEntry): Promise<void> {
    return writeFileAtomic(this.dir, JOURNAL, JSON.stringify(entry), 0o600);
  }

  /** Clears the entry once the change is confirmed or undone. */
  async end(): Promise<void> {
    await unlink(join(this.dir, JOURNAL)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await syncDirectory(this.dir);
  }

  async pending(): Promise<JournalEntry | undefined> {
    const raw = await this.readJson(JOURNAL);
    if (raw === undefined) return undefined;
    const parsed = journalEntry.safeParse(raw);
    if (!parsed.success) throw new JournalError(`${join(this.dir, JOURNAL)} is not a journal entry this shard wrote`);
    return parsed.data;
  }

  /** Settled recoveries, newest first; unreadable history reads as none. */
  async records(): Promise<RecoveryRecord[]> {
    const raw = await this.readJson(RECORDS).catch(() => undefined);
    const parsed = z.array(recoveryRecord).safeParse(raw ?? []);
    return parsed.success ? parsed.data : [];
  }

  async record(r: RecoveryRecord): Promise<void> {
    const all = [r, ...(await this.records()).filter((x) => x.planId !== r.planId)].slice(0, KEPT_RECORDS);
    await writeFileAtomic(this.dir, RECORDS, JSON.stringify(all), 0o600);
  }
}
