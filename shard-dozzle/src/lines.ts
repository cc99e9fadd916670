import { LogLevel, LogStream, type LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { cleanText } from '@homelab-mcp/hygiene';
import { toTimestamp } from '@homelab-mcp/shard-kit';
import type { RawLine } from './upstream/backend.js';

export const MAX_LINE = 2000;

/** Strips ANSI codes, redacts what looks like a secret, cuts very long lines. */
export function cleanLine(text: string): { text: string; redactions: number; cut: boolean } {
  const cleaned = cleanText(text);
  const { redactions } = cleaned;
  let t = cleaned.text;
  const cut = t.length > MAX_LINE;
  if (cut) t = `${t.slice(0, MAX_LINE)} … [cut ${t.length - MAX_LINE} characters]`;
  return { text: t, redactions, cut };
}

/** Dozzle's level guess, on the cleaned text. */
export function guessLevel(text: string): LogLevel {
  const m = /\b(trace|debug|info|warn(?:ing)?|error|err|fatal|panic|crit(?:ical)?)\b|\[(E|W|I|D)\]|\b(INF|WRN|ERR|DBG|FTL|TRC)\b/i.exec(text);
  const w = (m?.[1] ?? m?.[2] ?? m?.[3] ?? '').toLowerCase();
  if (!w) return LogLevel.LOG_LEVEL_UNSPECIFIED;
  if (w === 'trace' || w === 'trc') return LogLevel.LOG_LEVEL_TRACE;
  if (w === 'debug' || w === 'd' || w === 'dbg') return LogLevel.LOG_LEVEL_DEBUG;
  if (w === 'info' || w === 'i' || w === 'inf') return LogLevel.LOG_LEVEL_INFO;
  if (w.startsWith('warn') || w === 'w' || w === 'wrn') return LogLevel.LOG_LEVEL_WARN;
  if (w === 'fatal' || w === 'panic' || w === 'ftl' || w.startsWith('crit')) return LogLevel.LOG_LEVEL_FATAL;
  return LogLevel.LOG_LEVEL_ERROR;
}

export function toLogLine(raw: RawLine): { line: LogLine; redactions: number } {
  const c = cleanLine(raw.text);
  return {
    line: {
      time: toTimestamp(raw.time),
      stream: raw.stream === 'stdout' ? LogStream.LOG_STREAM_STDOUT : raw.stream === 'stderr' ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_UNSPECIFIED,
      text: c.text,
      level: guessLevel(c.text),
      cut: c.cut,
    },
    redactions: c.redactions,
  };
}
