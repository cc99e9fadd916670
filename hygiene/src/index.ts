import type { KnownSecrets } from './known-secrets.js';
import { applyRules, SUSPECT } from './rules.js';

export { findSecrets, isSecretKey, KnownSecrets } from './known-secrets.js';
export { REDACTED } from './rules.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * Strips ANSI codes and redacts secret-looking values, and the `known` secret
 * values wherever they appear; counts the redactions.
 */
export function cleanText(text: string, known?: KnownSecrets): { text: string; redactions: number } {
  // Most log lines hold nothing to clean: one cheap test instead of every rule.
  if (!SUSPECT.test(text) && !known?.test(text)) return { text, redactions: 0 };
  let redactions = 0;
  const count = () => void redactions++;
  let t = stripAnsi(text);
  // Known values first: a pattern may catch only part of one (a password with a `;` in it).
  if (known) t = known.redact(t, count);
  t = applyRules(t, count);
  return { text: t, redactions };
}

/** Cuts text longer than `max` characters, saying how much was cut. */
export function cutText(text: string, max: number): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  return { text: `${text.slice(0, max)} … [cut ${text.length - max} characters]`, cut: true };
}

/**
 * Cleans every string of a JSON value (ANSI, secrets) and cuts strings longer
 * than `maxString`; the shape stays the same, so output schemas still hold.
 * Only the objects and arrays on the way to a changed string are copied: a
 * clean value (most are) comes back as it is, the given value never changes.
 */
export function cleanJson<T>(value: T, maxString = 8000): { value: T; redactions: number; cut: number } {
  let redactions = 0;
  let cut = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const c = cleanText(v);
      redactions += c.redactions;
      const out = cutText(c.text, maxString);
      if (out.cut) cut++;
      return out.text;
    }
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const w = walk(v[i]);
        if (w !== v[i]) (copy ??= v.slice())[i] = w;
      }
      return copy ?? v;
    }
    if (v && typeof v === 'object') {
      let copy: Record<string, unknown> | undefined;
      for (const [k, x] of Object.entries(v)) {
        const w = walk(x);
        if (w !== x) (copy ??= Object.fromEntries(Object.entries(v)))[k] = w;
      }
      return copy ?? v;
    }
    return v;
  };
  return { value: walk(value) as T, redactions, cut };
}
