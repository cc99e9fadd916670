import { randomBytes } from 'node:crypto';
import { constants, type Dirent, type Stats } from 'node:fs';
import { lstat, open, opendir, realpath, rename, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * Replaces (or removes) a file so that a reader sees either the old or the new
 * version, never a partial one: temp file without a .yml extension (Traefik
 * ignores it) -> fsync -> rename -> fsync of the directory.
 */
export async function writeFileAtomic(dir: string, file: string, content: string | undefined, mode = 0o644): Promise<void> {
  const target = join(dir, file);
  if (content === undefined) {
    await unlink(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  } else {
    const tmp = join(dir, `.${file}.tmp-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  }
  await syncDirectory(dir);
}

export async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Temporary files writeFileAtomic leaves when the process dies mid-write. */
export const TEMP_FILE = /^\.[^/]*\.tmp-[0-9a-f]{12}$/;

/** A file read, or why it was not. */
export type ReadResult = { text: string } | { skipped: string };

function kindOf(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (reading it could block forever)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most maxBytes without following a symbolic link
 * in its last component and without blocking on a FIFO (opened non-blocking,
 * then checked with fstat before any read). Undefined when it does not exist.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<ReadResult | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return { skipped: 'a symbolic link' };
    return { skipped: `unreadable (${code})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { skipped: kindOf(st) };
    if (st.size > maxBytes) return { skipped: `${st.size} bytes, over the ${maxBytes}-byte limit for one file` };
    // One byte more than allowed tells a file that grew since fstat from one that did not.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = await fh.read(buf, n, buf.length - n, n)).bytesRead > 0; ) n += r.bytesRead;
    if (n > maxBytes) return { skipped: `over the ${maxBytes}-byte limit for one file` };
    return { text: buf.subarray(0, n).toString('utf8') };
  } finally {
    await fh.close();
  }
}

export interface ScanLimits {
  /** Directory levels below the root that are entered. */
  maxDepth: number;
  /** Directory entries looked at in all. */
  maxEntries: number;
  /** Bytes of one file. */
  maxFileBytes: number;
  /** Bytes read in all. */
  maxTotalBytes: number;
}

export interface Skipped {
  /** Relative to the root. */
  path: string;
  reason: string;
}

export interface ScanOptions {
  limits: ScanLimits;
  /** Which files are wanted (by path relative to the root); others are passed over silently. */
  wanted: (rel: string) => boolean;
  /** Entries to pass over silently (the caller's own files), by path relative to the root. */
  ignore: (rel: string) => boolean;
}

/**
 * Walks a directory the way Traefik's file provider does (into real
 * subdirectories, never through a link to a directory) and reads the wanted
 * files. Never reads outside the root: a link to a file is read only when its
 * target resolves inside the root. Bounded in depth, entries and bytes; every
 * wanted entry not read, and every link to a directory, is reported with why.
 */
export async function scanDirectory(root: string, options: ScanOptions, onFile: (rel: string, text: string) => void): Promise<Skipped[]> {
  const scan = new DirectoryScan(await realpath(root), options, onFile);
  await scan.walk(scan.root, '', 0);
  if (scan.truncated) scan.skip('.', `more than ${options.limits.maxEntries} entries: the rest was not looked at`);
  return scan.skipped;
}

/** One walk's state: what it has counted, read and passed over. */
class DirectoryScan {
  readonly skipped: Skipped[] = [];
  truncated = false;
  private entries = 0;
  private bytes = 0;

  constructor(
    readonly root: string,
    private readonly options: ScanOptions,
    private readonly onFile: (rel: string, text: string) => void,
  ) {}

  skip(path: string, reason: string): void {
    this.skipped.push({ path, reason });
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep);
  }

  async walk(dir: string, rel: string, depth: number): Promise<void> {
    // A directory swapped for a link between listing and opening is not entered.
    if (depth > 0 && (await realpath(dir).catch(() => '')) !== dir) return this.skip(rel, 'changed while being read: not looked into');
    const handle = await opendir(dir, { bufferSize: 64 }).catch((err: NodeJS.ErrnoException) => {
      this.skip(rel || '.', `unreadable directory (${err.code}); Traefik fails on it too`);
      return undefined;
    });
    if (!handle) return;
    const subdirs: [string, string][] = [];
    // for await closes the handle also when the loop is left early.
    for await (const entry of handle as AsyncIterable<Dirent>) {
      if (++this.entries > this.options.limits.maxEntries) {
        this.truncated = true;
        break;
      }
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (this.options.ignore(childRel)) continue;
      const subdir = await this.visit(entry, join(dir, entry.name), childRel, depth);
      if (subdir) subdirs.push(subdir);
    }
    for (const [path, r] of subdirs) {
      if (this.truncated) return;
      await this.walk(path, r, depth + 1);
    }
  }

  /** Looks at one entry; a subdirectory to enter later is returned. */
  private async visit(entry: Dirent, path: string, rel: string, depth: number): Promise<[string, string] | undefined> {
    const type = await entryType(entry, path);
    if (!type) return undefined;
    if (type.isDirectory()) {
      if (depth < this.options.limits.maxDepth) return [path, rel];
      this.skip(rel, `deeper than ${this.options.limits.maxDepth} directory levels: not looked into`);
    } else if (type.isSymbolicLink()) {
      await this.followLink(rel, path);
    } else if (this.options.wanted(rel)) {
      if (type.isFile()) await this.readWanted(rel, path);
      else this.skip(rel, kindOf(type));
    }
    return undefined;
  }

  private async followLink(rel: string, path: string): Promise<void> {
    let target: string;
    try {
      target = await realpath(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (this.options.wanted(rel)) this.skip(rel, code === 'ELOOP' ? 'a symbolic link that loops; Traefik cannot read it either' : `a symbolic link to nothing (${code}); Traefik cannot read it either`);
      return;
    }
    const st = await lstat(target).catch(() => undefined);
    if (st?.isDirectory()) return this.skip(rel, `a symbolic link to a directory${this.inside(target) ? '' : ' outside the dynamic directory'}: not followed (Traefik does not follow it either)`);
    if (!this.options.wanted(rel)) return;
    if (!this.inside(target)) return this.skip(rel, 'a symbolic link to a file outside the dynamic directory: not read');
    await this.readWanted(rel, target);
  }

  private async readWanted(rel: string, path: string): Promise<void> {
    const { maxFileBytes, maxTotalBytes } = this.options.limits;
    if (this.bytes >= maxTotalBytes) return this.skip(rel, `not read: the scan's ${maxTotalBytes}-byte budget is spent`);
    const res = await readRegularFile(path, Math.min(maxFileBytes, maxTotalBytes - this.bytes));
    if (!res) return;
    if ('skipped' in res) return this.skip(rel, res.skipped);
    this.bytes += Buffer.byteLength(res.text);
    this.onFile(rel, res.text);
  }
}

/** The entry's type; when the file system did not say (DT_UNKNOWN), asked without following a link. */
async function entryType(entry: Dirent, path: string): Promise<Dirent | Stats | undefined> {
  const known = entry.isFile() || entry.isDirectory() || entry.isSymbolicLink() || entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice();
  return known ? entry : lstat(path).catch(() => undefined);
}
