/**
 * What a secret looks like. Each rule's `secret` group is replaced; the rest of
 * the match (a `pre` group before it, say) stays. `hints` are texts that every
 * match of the rule contains (compared case-insensitively): a line holding none
 * of the hints of any rule is left as it is without running the rules, which
 * keeps cleaning a long log cheap.
 *
 * The lines come from anyone who can write to a log, so each rule runs in time
 * linear in the line: a match starts only where a token starts (a lookbehind,
 * not \b, so a run like a.a.a.a or eyJ-eyJ- offers one start, not one per
 * word), and what may repeat before a required character is bounded.
 */
export interface Rule {
  readonly re: RegExp;
  readonly hints: readonly string[];
}

export const REDACTED = '[REDACTED]';

const KEY_WORDS = 'pass(?:word|wd)?|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|authorization';
const KEY_HINTS = ['pass', 'token', 'secret', 'apikey', 'api_key', 'api-key', 'accesskey', 'access_key', 'access-key', 'privatekey', 'private_key', 'private-key', 'credential', 'authorization'];
/**
 * A key that names a secret, also within a longer name (DB_PASSWORD,
 * GITEA__security__SECRET_KEY, x-api-key, refresh_token) but not inside a word
 * (bypass, compass), then `=` or `:`. DB_PASSWORD_FILE names where the secret
 * is, not the secret.
 */
const KEY = `(?<![A-Za-z0-9])(?:${KEY_WORDS})(?:[_.-][A-Za-z0-9]{1,64}){0,4}(?<![_.-](?:file|path|dir))["']?\\s*[:=]\\s*`;

export const RULES: readonly Rule[] = [
  { re: /(?<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$))/g, hints: ['-----BEGIN '] },
  { re: /(?<secret>(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/g, hints: ['eyJ'] },
  {
    re: /(?<secret>\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}))/g,
    hints: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_', 'glpat-', 'xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'AKIA', 'sk-'],
  },
  // A quoted value may hold spaces: all of it up to the closing quote.
  { re: new RegExp(`(?<pre>${KEY}(?<q>["']))(?<secret>(?:(?!\\k<q>)[^\\n])+)(?=\\k<q>)`, 'gi'), hints: KEY_HINTS },
  // The scheme of an Authorization value goes with the secret (`Authorization: [REDACTED]`).
  { re: new RegExp(`(?<pre>${KEY}["']?)(?:Bearer\\s+)?(?<secret>[^\\s"',;&]{3,})`, 'gi'), hints: KEY_HINTS },
  { re: /(?<pre>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}:\/\/[^/\s:@]{1,256}:)(?<secret>[^@\s/]{1,256})(?=@)/gi, hints: ['://'] },
  { re: /(?<pre>\bBearer\s+)(?<secret>[A-Za-z0-9._~+/-]{8,}=*)/g, hints: ['bearer'] },
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether a text may hold something a rule redacts (or an escape sequence): a superset test, cheap. */
export const SUSPECT = new RegExp(['\u001b', ...RULES.flatMap((r) => r.hints)].map(escape).join('|'), 'i');

type Groups = { pre?: string; secret?: string };

/**
 * Applies every rule; `onSecret` sees each value replaced. A value that already
 * reads [REDACTED] (a known secret replaced first) is neither replaced nor counted again.
 */
export function applyRules(text: string, onSecret: (value: string) => void): string {
  let t = text;
  for (const { re } of RULES) {
    t = t.replace(re, (...args: unknown[]) => {
      const match = args[0] as string;
      const g = args.at(-1) as Groups;
      if (!g.secret || g.secret === REDACTED) return match;
      onSecret(g.secret);
      return `${g.pre ?? ''}${REDACTED}`;
    });
  }
  return t;
}
