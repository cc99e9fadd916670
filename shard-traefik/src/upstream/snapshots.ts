import { randomUUID } from 'node:crypto';
import type { RawData } from './traefik-api.js';

/**
 * The last few runtime configurations read from Traefik, by name, for a short
 * while: a caller that read the routes and then traces a request through them
 * (diagnose_service) sees one configuration and costs Traefik one read.
 * Nothing is served from here unless a caller names the snapshot.
 */
export class RawDataSnapshots {
  /**
   * Each configuration as the text Traefik sent: one flat string per snapshot
   * costs the garbage collector next to nothing to keep, where the parsed
   * object graph would be copied and traced for every call until it expired.
   * A snapshot is parsed again only when a caller names it.
   */
  private readonly held = new Map<string, { text: string; at: number; expiry: NodeJS.Timeout }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 8,
  ) {}

  /** Keeps a configuration just read; returns its name. It is let go when it expires, read or not (an idle shard holds none). */
  keep(text: string): string {
    const id = randomUUID();
    this.held.set(id, { text, at: Date.now(), expiry: setTimeout(() => this.held.delete(id), this.ttlMs).unref() });
    // Oldest first: a Map iterates in insertion order.
    for (const [key, entry] of this.held) {
      if (this.held.size <= this.max) break;
      clearTimeout(entry.expiry);
      this.held.delete(key);
    }
    return id;
  }

  /** The configuration of that name, unless it is unknown or too old. */
  get(id: string): RawData | undefined {
    const entry = this.held.get(id);
    if (!entry || Date.now() - entry.at > this.ttlMs) return undefined;
    return JSON.parse(entry.text) as RawData;
  }
}
