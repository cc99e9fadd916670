import { describe, expect, it } from '@jest/globals';
import { cleanJson, cleanText, isSecretKey } from '../src/index.js';

describe('output hygiene', () => {
  it.each([
    ['Authorization: Bearer abcdefghijklmnop123', 'Authorization: [REDACTED]'],
    ['connecting to postgres://gitea:s3cr3t@db:5432/gitea', 'connecting to postgres://gitea:[REDACTED]@db:5432/gitea'],
    ['token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 done', 'token=[REDACTED] done'],
    ['key AKIAABCDEFGHIJKLMNOP used', 'key [REDACTED] used'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', 'jwt [REDACTED]'],
    ['\u001b[31mred\u001b[0m plain', 'red plain'],
  ])('%s', (input, output) => {
    expect(cleanText(input).text).toBe(output);
  });

  it('redacts a whole private key block', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    expect(cleanText(`here: ${key} end`)).toEqual({ text: 'here: [REDACTED] end', redactions: 1 });
  });

  it('keeps the JSON shape, cleaning and cutting strings only', () => {
    const out = cleanJson({ lines: [{ text: 'password=hunter2', n: 3 }], long: 'x'.repeat(30) }, 20);
    expect(out.value).toEqual({ lines: [{ text: 'password=[REDACTED]', n: 3 }], long: `${'x'.repeat(20)} … [cut 10 characters]` });
    expect(out).toMatchObject({ redactions: 1, cut: 1 });
  });

  it('knows secret field names', () => {
    expect(['client_secret', 'api_key', 'password', 'token'].every(isSecretKey)).toBe(true);
    expect(isSecretKey('hosts')).toBe(false);
  });
});
