import { readFileSync, writeFileSync } from 'node:fs';

function statusMiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in MiB, from /proc (Linux); NaN when unknown. */
export const rssMiB = (pid: number): number => statusMiB(pid, 'VmRSS');

/** Peak resident set size of a process in MiB (VmHWM). */
export const peakRssMiB = (pid: number): number => statusMiB(pid, 'VmHWM');

/**
 * The process's own resident memory in MiB (RssAnon): RSS without the pages of
 * files it maps, of which the node binary is most (about 35-46 MiB per Node
 * process, shared by every Node process on the host).
 */
export const anonRssMiB = (pid: number): number => statusMiB(pid, 'RssAnon');

/** Starts a process's peak RSS (VmHWM) afresh from its current RSS (Linux: /proc/PID/clear_refs); false when it cannot. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples RSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 250): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rssMiB(pid)), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}
