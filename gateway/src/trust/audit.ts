import { appendFileSync, chmodSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { isSecretKey, REDACTED } from '@homelab-mcp/hygiene';
import { MAX_MESSAGE_DEPTH } from '../schema/index.js';

export interface AuditEntry {
  subject: string;
  tool: string;
  arguments: unknown;
  planId?: string;
  /** "planned", "applied", "ok", "error", or a person's "approved" / "rejected". */
  result: string;
  error?: string;
  /** The person who approved (or rejected) the plan, when one did. */
  approver?: string;
  /** Where they decided: elicitation (in the client) or console. */
  via?: string;
  /** Why it was rejected. */
  reason?: string;
  durationMs: number;
}

/**
 * Levels of arguments an audit line keeps: deeper than anything the gateway
 * forwards (two JSON levels per message level), shallow enough that refused
 * arguments of any depth are still written, cut.
 */
const MAX_AUDIT_DEPTH = 2 * MAX_MESSAGE_DEPTH;

/** Arguments with every secret field's value replaced, cut below the audit depth. */
export function redactArgs(v: unknown, secretFields: Set<string>, key = '', depth = 0): unknown {
  if (key && (isSecretKey(key) || secretFields.has(key))) return REDACTED;
  if (v && typeof v === 'object' && depth >= MAX_AUDIT_DEPTH) return `[nested deeper than ${MAX_AUDIT_DEPTH} levels]`;
  if (Array.isArray(v)) return v.map((x) => redactArgs(x, secretFields, '', depth + 1));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactArgs(x, secretFields, k, depth + 1)]));
  return v;
}

/**
 * Append-only audit log of every call that can change something, as JSON
 * lines (mode 0600): time, subject, tool, arguments with secrets redacted,
 * plan id, result, duration. Rotated by size (audit.log.1 … .N). Writing never
 * fails a call: a problem is logged instead.
 */
export class AuditLog {
  constructor(
    private readonly file: string,
    private readonly logger: Logger,
    private readonly maxBytes = 10 * 1024 * 1024,
    private readonly keep = 5,
  ) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  }

  private rotate(): void {
    for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameSync(this.file, `${this.file}.1`);
  }

  write(entry: AuditEntry, secretFields: string[] = []): void {
    try {
      if (existsSync(this.file) && statSync(this.file).size >= this.maxBytes) this.rotate();
      const fields = new Set(secretFields.map((f) => f.split('.').pop() ?? f));
      const line = JSON.stringify({ time: new Date().toISOString(), ...entry, arguments: redactArgs(entry.arguments, fields) });
      appendFileSync(this.file, `${line}\n`, { mode: 0o600, flag: 'a' });
      chmodSync(this.file, 0o600);
    } catch (err) {
      this.logger.error({ err, file: this.file }, 'cannot write the audit log');
    }
  }
}
