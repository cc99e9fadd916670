import { describe, expect, it } from '@jest/globals';
import { KnownSecrets } from '@homelab-mcp/hygiene';
import { compileQuery, matchLine } from '../src/line-matcher.js';
import type { RawLine } from '../src/upstream/backend.js';

const raw = (text: string): RawLine => ({ time: new Date(0), stream: 'stdout', text });
const find = (query: string, text: string, opts: { regex?: boolean; secrets?: KnownSecrets } = {}) =>
  matchLine(raw(text), compileQuery(query, opts.regex ?? false, false), opts.secrets)?.text;

describe('search_logs matching', () => {
  it('matches what the caller sees, not the raw secret', () => {
    const line = 'login ok user=alice password=hunter2';
    for (const q of ['hunter2', '=hun', 'password=h']) expect(find(q, line)).toBeUndefined();
    for (const q of ['password=hun[n-z]', 'password=[a-z]+2$', '(?i)HUNTER']) expect(find(q, line, { regex: true })).toBeUndefined();
    expect(find('password=[', line)).toBe('login ok user=alice password=[REDACTED]');
    expect(find('password=\\[REDACTED\\]$', line, { regex: true })).toBe('login ok user=alice password=[REDACTED]');
  });

  it('finds text that only cleaning puts together: across an escape code, or in the redaction mark', () => {
    expect(find('ERROR: disk', 'ERROR\u001b[0m: disk full')).toBe('ERROR: disk full');
    expect(find('] in use', 'key token=abc123 in use')).toBe('key token=[REDACTED] in use');
    expect(find('dacte', 'key token=abc123 in use')).toBe('key token=[REDACTED] in use');
  });

  it('rules lines out by the literals a pattern requires, without losing a match', () => {
    const locked = compileQuery('DATABASE is (LOCKED|busy)', true, false);
    expect(locked.rawMayMatch?.('GET /api 200')).toBe(false);
    expect(find('DATABASE is (LOCKED|busy)', 'sqlite: database is locked', { regex: true })).toBe('sqlite: database is locked');
    // Unicode case folding, as RE2 folds: k, K and the Kelvin sign.
    expect(find('kelvin', '\u212Aelvin scale', { regex: true })).toBe('\u212Aelvin scale');
    expect(find('ERROR: d.sk', 'ERROR\u001b[0m: disk full', { regex: true })).toBe('ERROR: disk full');
    // A literal that cleaning may put into a line: every line is cleaned first.
    expect(compileQuery('dacted', true, false).rawMayMatch).toBeUndefined();
    expect(find('n=\\[?abc', 'key token=abc123 in use', { regex: true })).toBeUndefined();
    expect(find('n=\\[re(dacted)', 'key token=abc123 in use', { regex: true })).toBe('key token=[REDACTED] in use');
  });

  it("redacts a container's own secrets before matching", () => {
    const secrets = KnownSecrets.of(['Hunter2Secret']);
    expect(find('Hunter2', 'db ready (password Hunter2Secret)', { secrets })).toBeUndefined();
    expect(find('(password [REDACTED])', 'db ready (password Hunter2Secret)', { secrets })).toBe('db ready (password [REDACTED])');
  });

  it('matches only the part of a very long line that is shown, not the cut marker', () => {
    const long = `${'x'.repeat(2500)} tail`;
    expect(find('tail', long)).toBeUndefined();
    expect(find('[cut', long)).toBeUndefined();
    expect(find('xxx', long)).toMatch(/^x{2000} … \[cut 505 characters\]$/);
  });

  it('names the field and the syntax when RE2 refuses a pattern', () => {
    expect(() => compileQuery('(a)\\1', true, false)).toThrow('query is not an RE2 regular expression: invalid escape sequence: `\\1`');
    expect(() => compileQuery('a(?=b)', true, true)).toThrow(/^query is not an RE2 regular expression: invalid or unsupported Perl syntax/);
  });
});
