import { readFileSync, writeFileSync } from 'node:fs';

/** Resident set size of a process in MiB, from /proc (Linux); NaN when unknown. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Peak resident set size of a process in MiB (VmHWM). */
export function peakRssMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

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
