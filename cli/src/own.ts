import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { canWrite } from './file-access.js';

/** What `own` does to each path it is given (see runOwn). */
export interface OwnPlan {
  uid: number;
  gid: number;
  /** Directories handed over with everything in them (certificates, the gateway's data). */
  trees: string[];
  /** Directories handed over themselves only, when the user cannot write there yet (Traefik's file-provider directory). */
  dirs: string[];
  /** Secret files: handed over and made unreadable to anyone else. */
  secrets: string[];
}

/** "1000:1000" -> { uid: 1000, gid: 1000 }. */
export function parseUser(spec: string): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`--user must be numeric uid:gid (example: --user 1000:1000), got "${spec}"`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * Hands the paths a deployment's containers write and read to the user they
 * run as, with no more privilege than chown needs: the owners-init service
 * runs this as root with only CAP_CHOWN and CAP_FOWNER (no CAP_DAC_*), so it
 * can change owners and modes but not read or search what root does not own.
 * A directory it cannot search (0700, someone else's) is first taken over by
 * root (chown needs no search permission on the directory itself), then
 * walked, then handed on. Symbolic links are never followed: a link in the
 * certificates directory cannot make it chown /etc/shadow. `say` gets one
 * line per change.
 */
export async function runOwn(plan: OwnPlan, say: (line: string) => void): Promise<void> {
  const { uid, gid } = plan;
  const hand = async (path: string, st: { uid: number; gid: number }): Promise<void> => {
    if (st.uid === uid && st.gid === gid) return;
    await lchown(path, uid, gid);
    say(`${path}: owner ${st.uid}:${st.gid} -> ${uid}:${gid}`);
  };
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path);
    if (st.isSymbolicLink()) {
      say(`${path}: a symbolic link, left alone`);
      return;
    }
    if (!st.isDirectory()) return hand(path, st);
    // Searchable by root without CAP_DAC_READ_SEARCH only as its owner (or through the "other" bits).
    const taken = st.uid !== 0 && (st.mode & 0o005) !== 0o005;
    if (taken) await lchown(path, 0, st.gid);
    for (const entry of await readdir(path)) await walk(join(path, entry));
    if (taken && st.uid === uid && st.gid === gid) await lchown(path, uid, gid);
    else await hand(path, st);
  };
  for (const tree of plan.trees) {
    const st = await lstat(tree).catch(() => undefined);
    if (!st) throw new Error(`${tree} does not exist`);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${tree} is not a directory`);
    await walk(tree);
  }
  for (const dir of plan.dirs) {
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`${dir} is not a directory`);
    if (canWrite(st, uid, gid)) continue;
    await hand(dir, st);
    if ((st.mode & 0o300) !== 0o300) {
      await chmod(dir, (st.mode & 0o7777) | 0o300);
      say(`${dir}: mode ${octal(st.mode)} -> ${octal(st.mode | 0o300)}`);
    }
  }
  for (const file of plan.secrets) {
    const st = await lstat(file).catch(() => undefined);
    if (!st) throw new Error(`${file} does not exist: create it with the secret in it (mode 600)`);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    await hand(file, st);
    const mode = (st.mode & 0o700) | 0o400;
    if ((st.mode & 0o7777) !== mode) {
      await chmod(file, mode);
      say(`${file}: mode ${octal(st.mode)} -> ${octal(mode)} (no one else may read a secret)`);
    }
  }
}
