import type { KnownSecrets } from '@homelab-mcp/hygiene';

/**
 * What the Watchman needs from a log source; Docker (through a GET-only proxy)
 * and Dozzle both provide it. Raw upstream text: it reaches a caller only
 * through toContainer and the line cleaning, which redact it.
 */
export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  state: string;
  status: string;
  health: string;
  createdAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
  labels: Record<string, string>;
  host: string;
  tty: boolean;
  restartCount: number;
  /** Ports the image exposes (container side), where the source says. */
  exposedPorts?: number[];
  exitCode: number;
  /**
   * Values the container was configured with that must never show: its
   * secret environment values and what the redaction patterns find in its
   * labels, command line and healthcheck. Redacted wherever they appear in
   * its logs; never returned themselves.
   */
  secrets?: KnownSecrets | undefined;
}

export interface RawLine {
  time: Date;
  stream: 'stdout' | 'stderr' | 'unknown';
  text: string;
}

export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  since?: Date;
  until?: Date;
  /** Only the last N lines (before filtering by the caller). */
  tail?: number;
}

export interface StatsSample {
  cpuPercent: number;
  memoryUsage: number;
  memoryLimit: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

export interface LogBackend {
  /** e.g. "Dozzle API at http://dozzle:8080/api". */
  readonly description: string;
  ping(signal: AbortSignal): Promise<void>;
  containers(all: boolean, signal: AbortSignal): Promise<ContainerInfo[]>;
  /**
   * Log lines, oldest first, streamed in batches as they arrive (a batch per
   * network read): never the whole log in memory, and the next read only
   * once the caller took the last batch.
   */
  logs(c: ContainerInfo, q: LogQuery, signal: AbortSignal): AsyncIterable<RawLine[]>;
  /** New lines as they are written, until the signal aborts. */
  follow(c: ContainerInfo, q: LogQuery, signal: AbortSignal): AsyncIterable<RawLine[]>;
  stats(c: ContainerInfo, signal: AbortSignal): Promise<StatsSample>;
}
