// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
const WHOLE: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,})/g,
];
const PAIRS = /\b((?:pass(?:word|wd)?|token|secret|api[_-]?key|access[_-]?key|client[_-]?secret|authorization)["']?\s*[:=]\s*["']?)(?:Bearer\s+)?([^\s"',;&]{3,})/gi;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)([^@\s/]+)(@)/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/g;

export const REDACTED = '[REDACTED]';

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Strips ANSI codes and redacts secret-looking values; counts the redactions. */
export function cleanText(text: string): { text: string; redactions: number } {
  let redactions = 0;
  let t = stripAnsi(text);
  for (const re of WHOLE) t = t.replace(re, () => (redactions++, REDACTED));
  t = t.replace(PAIRS, (_m, k: string) => (redactions++, `${k}${REDACTED}`));
  t = t.replace(URL_PASSWORD, (_m, a: string, _p: string, at: string) => (redactions++, `${a}${REDACTED}${at}`));
  t = t.replace(BEARER, (_m, b: string) => (redactions++, `${b}${REDACTED}`));
  return { text: t, redactions };
}

const SECRET_KEY = /(pass(word|wd)?|token|secret|api[_-]?key|private[_-]?key|authorization|credential)/i;

/** Whether a field name says its value is secret (for audit logs). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Cleans every string of a JSON value (ANSI, secrets) and cuts strings longer
 * than `maxString`; the shape stays the same, so output schemas still hold.
 */
export function cleanJson<T>(value: T, maxString = 8000): { value: T; redactions: number; cut: number } {
  let redactions = 0;
  let cut = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const c = cleanText(v);
      redactions += c.redactions;
      if (c.text.length > maxString) {
        cut++;
        return `${c.text.slice(0, maxString)} … [cut ${c.text.length - maxString} characters]`;
      }
      return c.text;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value) as T, redactions, cut };
}
