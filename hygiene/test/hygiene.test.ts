import { describe, expect, it } from '@jest/globals';
import { cleanJson, cleanText, findSecrets, isSecretKey, KnownSecrets, stripAnsi } from '../src/index.js';
import { applyRules, RULES, SUSPECT } from '../src/rules.js';

describe('output hygiene', () => {
  it.each([
    ['Authorization: Bearer abcdefghijklmnop123', 'Authorization: [REDACTED]'],
    ['connecting to postgres://gitea:s3cr3t@db:5432/gitea', 'connecting to postgres://gitea:[REDACTED]@db:5432/gitea'],
    ['token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 done', 'token=[REDACTED] done'],
    ['key AKIAABCDEFGHIJKLMNOP used', 'key [REDACTED] used'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', 'jwt [REDACTED]'],
    ['\u001b[31mred\u001b[0m plain', 'red plain'],
    // A key that ends a longer name, as environment variables and config keys are written.
    ['DB_PASSWORD=hunter22 GITEA_TOKEN=abc123def', 'DB_PASSWORD=[REDACTED] GITEA_TOKEN=[REDACTED]'],
    ['GITEA__security__SECRET_KEY=xyzxyz x-api-key: k3yk3y', 'GITEA__security__SECRET_KEY=[REDACTED] x-api-key: [REDACTED]'],
    ['{"password": "correct horse battery", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'],
    ["client_secret='it has spaces' next", "client_secret='[REDACTED]' next"],
    // Inside a word it is not a key.
    ['bypass=true compass: north', 'bypass=true compass: north'],
    ['DB_PASSWORD_FILE=/run/secrets/db', 'DB_PASSWORD_FILE=/run/secrets/db'],
  ])('%s', (input, output) => {
    expect(cleanText(input).text).toBe(output);
  });

  it('redacts a whole private key block', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    expect(cleanText(`here: ${key} end`)).toEqual({ text: 'here: [REDACTED] end', redactions: 1 });
  });

  it('keeps the JSON shape, cleaning and cutting strings only', () => {
    const given = { lines: [{ text: 'password=hunter2', n: 3 }, { text: 'fine' }], long: 'x'.repeat(30), clean: { a: ['b'] } };
    const out = cleanJson(given, 20);
    expect(out.value).toEqual({ lines: [{ text: 'password=[REDACTED]', n: 3 }, { text: 'fine' }], long: `${'x'.repeat(20)} … [cut 10 characters]`, clean: { a: ['b'] } });
    expect(out).toMatchObject({ redactions: 1, cut: 1 });
    // The value given is left as it was, whatever was cleaned.
    expect(given.lines[0]!.text).toBe('password=hunter2');
    expect(given.long).toHaveLength(30);
    const clean = { routes: [{ name: 'whoami', rule: 'Host(`whoami.home.lan`)' }] };
    expect(cleanJson(clean)).toEqual({ value: clean, redactions: 0, cut: 0 });
  });

  it('redacts known values wherever they appear, before the patterns, and never serialises them', () => {
    const known = findSecrets(
      [['DB_PASSWORD', 'Hunter2Secret'], ['TZ', 'Europe/Berlin'], ['DATABASE_URL', 'postgres://app:pgpass99@db/app'], ['RETRY_TOKEN_TTL', '360000'], ['DB_PASSWORD_FILE', '/run/secrets/db'], ['homelab.api-token', 'LabelSecret123']],
      ['/bin/server --api-key=CmdSecret456 --verbose'],
    );
    const line = 'auth with Hunter2Secret, pgpass99, LabelSecret123 and CmdSecret456 in Europe/Berlin; file /run/secrets/db; ttl 360000; pw=Hunter2Secret;x';
    expect(cleanText(line, known)).toEqual({
      text: 'auth with [REDACTED], [REDACTED], [REDACTED] and [REDACTED] in Europe/Berlin; file /run/secrets/db; ttl 360000; pw=[REDACTED];x',
      redactions: 5,
    });
    expect(JSON.stringify({ known })).toBe('{"known":"[REDACTED]"}');
    expect(findSecrets([['TZ', 'UTC'], ['PASSWORD', 'short']])).toBeUndefined();
    expect(KnownSecrets.of(['abcdef', 'abcdefgh'])?.redact('x abcdefgh y', () => undefined)).toBe('x [REDACTED] y');
  });

  it('skips the rules only for lines none of them would change', () => {
    // Fragments of every kind of secret, shuffled into lines: the cheap test must let each such line through.
    const parts = [
      ...RULES.flatMap((r) => r.hints), 'PASSWORD', 'Token', 'API-KEY', 'Authorization', '=', ': ', ' ', '"', "'", '@', '//', ':', 'Bearer ',
      'abcdefghijklmnopqrstuvwxyz012345', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz', '-----END RSA PRIVATE KEY-----', '\u001b[1m', 'x_', 'plain text',
    ];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    let changed = 0;
    for (let i = 0; i < 10_000; i++) {
      const line = Array.from({ length: 2 + Math.floor(next() * 6) }, () => parts[Math.floor(next() * parts.length)]).join('');
      const thorough = applyRules(stripAnsi(line), () => undefined);
      if (thorough !== line) {
        changed++;
        expect(SUSPECT.test(line)).toBe(true);
      }
      expect(cleanText(line).text).toBe(thorough);
    }
    expect(changed).toBeGreaterThan(500);
  });

  // Log lines come from anyone who can write to a log: a pattern that backtracks over a long run
  // (a.a.a..., password_password_..., eyJ-eyJ-...) would stall the process for minutes on these.
  it.each([
    ['a dotted run before ://', `${'a.'.repeat(500_000)} x://`],
    ['a long user part', `a://${'b'.repeat(1_000_000)}`],
    ['key words joined by underscores', `${'password_'.repeat(120_000)} x://`],
    ['dashed JWT starts', `${'eyJ-'.repeat(250_000)}.`],
    ['a key followed by spaces', 'password    '.repeat(90_000)],
  ])('cleans a megabyte of %s in one pass', (_what, line) => {
    expect(cleanText(line)).toEqual({ text: line, redactions: 0 });
  });

  it('knows secret field names', () => {
    expect(['client_secret', 'api_key', 'password', 'token'].every(isSecretKey)).toBe(true);
    expect(isSecretKey('hosts')).toBe(false);
  });
});
