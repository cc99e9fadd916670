import { existsSync, readFileSync } from 'node:fs';

/** What the console's audit view asks for; every field narrows the lines. */
export interface AuditQuery {
  /** Text anywhere in the line (case-insensitive): a tool, a plan id, a host. */
  text?: string;
  /** An exact result: planned, applied, approved, rejected, refused, error, unknown. */
  result?: string;
  tool?: string;
  limit: number;
}

/**
 * The newest audit lines that match, newest first, from audit.log and its
 * most recent rotation. Lines that are not JSON are skipped (a torn last
 * line while a write is under way).
 */
export function queryAudit(file: string, query: AuditQuery): Record<string, unknown>[] {
  const text = query.text?.toLowerCase();
  const out: Record<string, unknown>[] = [];
  for (const f of [file, `${file}.1`]) {
    if (!existsSync(f)) continue;
    const lines = readFileSync(f, 'utf8').split('\n');
    for (let i = lines.length - 1; i >= 0 && out.length < query.limit; i--) {
      const line = lines[i]!;
      if (!line || (text && !line.toLowerCase().includes(text))) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (query.result && entry.result !== query.result) continue;
      if (query.tool && entry.tool !== query.tool) continue;
      out.push(entry);
    }
  }
  return out;
}
