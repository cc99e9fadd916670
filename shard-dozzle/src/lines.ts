import { LogLevel, LogStream, type LogLine } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { toTimestamp } from '@homelab-mcp/shard-kit';
import type { RawLine } from './upstream/backend.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
const SECRETS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9]{20,})/g,
];
const PAIRS = /\b((?:pass(?:word|wd)?|token|secret|api[_-]?key|access[_-]?key|authorization)["']?\s*[:=]\s*["']?)(?:Bearer\s+)?([^\s"',;&]{3,})/gi;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)([^@\s/]+)(@)/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/g;

export const MAX_LINE = 2000;

/** Strips ANSI codes, redacts what looks like a secret, cuts very long lines. */
export function cleanLine(text: string): { text: string; redactions: number; cut: boolean } {
  let redactions = 0;
  let t = text.replace(ANSI, '');
  for (const re of SECRETS) t = t.replace(re, () => (redactions++, '[REDACTED]'));
  t = t.replace(PAIRS, (_m, k: string) => (redactions++, `${k}[REDACTED]`));
  t = t.replace(URL_PASSWORD, (_m, a: string, _p: string, at: string) => (redactions++, `${a}[REDACTED]${at}`));
  t = t.replace(BEARER, (_m, b: string) => (redactions++, `${b}[REDACTED]`));
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
