import { LogLevel, LogStream, type LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { cleanText, cutText, type KnownSecrets } from '@homelab-mcp/hygiene';
import { toTimestamp } from '@homelab-mcp/shard-kit';
import type { RawLine } from './upstream/backend.js';

export const MAX_LINE = 2000;

export interface CleanLine {
  /** What a caller sees of the line (a cut line ends with a marker saying so). */
  text: string;
  /** All that search_logs matches against: the text without the marker. */
  searchable: string;
  redactions: number;
  cut: boolean;
}

/**
 * Strips ANSI codes, redacts what looks like a secret and the container's own
 * secrets, then cuts a very long line (after redacting, so a secret that
 * spans the cut is still hidden whole).
 */
export function cleanLine(text: string, secrets?: KnownSecrets): CleanLine {
  const cleaned = cleanText(text, secrets);
  const { text: t, cut } = cutText(cleaned.text, MAX_LINE);
  return { text: t, searchable: cut ? cleaned.text.slice(0, MAX_LINE) : t, redactions: cleaned.redactions, cut };
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

/** A line as the tools return it, from its cleaned text. */
export function toLogLine(raw: RawLine, c: CleanLine): LogLine {
  return {
    time: toTimestamp(raw.time),
    stream: raw.stream === 'stdout' ? LogStream.LOG_STREAM_STDOUT : raw.stream === 'stderr' ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_UNSPECIFIED,
    text: c.text,
    level: guessLevel(c.text),
    cut: c.cut,
  };
}
