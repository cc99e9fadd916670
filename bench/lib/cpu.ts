import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime/stime in USER_HZ ticks, which is 100 per second on every architecture. */
const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in ms; NaN when unknown (no /proc). */
export function cpuMs(pid: number): number {
  const f = statFields(pid);
  // After the name: state(0) ppid(1) ... utime(11) stime(12).
  return f ? ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_SECOND : Number.NaN;
}

/** The live child processes of `pid`. */
export function childPids(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e) && statFields(Number(e))?.[1] === String(pid)).map(Number);
}

/** A process on a target's call path, by the part it plays there. */
export interface PathProcess {
  role: string;
  pid: number;
}

/**
 * CPU used by the processes on a call path (and by this process, the client)
 * from this call until `stop()`, in ms by role.
 */
export function cpuMeter(processes: PathProcess[]): { stop(): Record<string, number> } {
  const before = processes.map((p) => cpuMs(p.pid));
  const self = process.cpuUsage();
  return {
    stop: () => {
      const used = process.cpuUsage(self);
      const out: Record<string, number> = { client: (used.user + used.system) / 1000 };
      processes.forEach((p, i) => {
        out[p.role] = (out[p.role] ?? 0) + (cpuMs(p.pid) - (before[i] ?? Number.NaN));
      });
      return out;
    },
  };
}
