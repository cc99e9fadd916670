import { randomUUID } from 'node:crypto';
import type { RawData } from './traefik-api.js';

/**
 * The last few runtime configurations read from Traefik, by name, for a short
 * while: a caller that read the routes and then traces a request through them
 * (diagnose_service) sees one configuration and costs Traefik one read.
 * Nothing is served from here unless a caller names the snapshot.
 */
export class RawDataSnapshots {
  private readonly held = new Map<string, { raw: RawData; at: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 8,
  ) {}

  /** Keeps a configuration just read; returns its name. */
  keep(raw: RawData): string {
    const id = randomUUID();
    this.held.set(id, { raw, at: Date.now() });
    // Oldest first: a Map iterates in insertion order.
    for (const key of this.held.keys()) {
      if (this.held.size <= this.max) break;
      this.held.delete(key);
    }
    return id;
  }

  /** The configuration of that name, unless it is unknown or too old. */
  get(id: string): RawData | undefined {
    const entry = this.held.get(id);
    if (!entry) return undefined;
    if (Date.now() - entry.at > this.ttlMs) {
      this.held.delete(id);
      return undefined;
    }
    return entry.raw;
  }
}
