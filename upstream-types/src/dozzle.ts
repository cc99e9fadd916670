// Dozzle's API (v10) as internal/container/types.go defines it: the shard reads
// it, the stand-in writes it, so both agree on one shape.

/** A container in the `containers-changed` event of /api/events/stream. */
export interface DozzleContainer {
  id: string;
  name: string;
  image: string;
  command: string;
  created: string;
  startedAt: string;
  /** `0001-01-01T00:00:00Z` (Go's zero time) while the container has not finished. */
  finishedAt: string;
  state: string;
  health?: string;
  host: string;
  labels: Record<string, string>;
  stats: DozzleStat[];
  memoryLimit: number;
  cpuLimit: number;
  group?: string;
}

/** One sample of a container's resource use (a `container-stat` event). */
export interface DozzleStat {
  id: string;
  cpu: number;
  memory: number;
  memoryUsage: number;
  networkRxTotal: number;
  networkTxTotal: number;
  diskReadTotal: number;
  diskWriteTotal: number;
}
