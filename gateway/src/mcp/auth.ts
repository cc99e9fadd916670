import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface TokenFile {
  token: string;
  /** True when this call created the file: the launcher prints the token once, then. */
  created: boolean;
}

/** Reads the bearer token, creating a random one (mode 0600) on first run. */
export function loadOrCreateToken(path: string): TokenFile {
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 32) return { token, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'w' });
  chmodSync(path, 0o600);
  return { token, created: true };
}

/** The credential of an `Authorization: Bearer …` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/** Constant-time check of an `Authorization: Bearer …` header value. */
export function createTokenChecker(token: string): (header: string | undefined) => boolean {
  const expected = hash('sha256', token, 'buffer');
  return (header) => {
    const presented = bearerToken(header);
    // Hashing both sides makes the comparison length-independent (the one-shot hash: no Hash object per request).
    const given = hash('sha256', presented ?? '', 'buffer');
    return timingSafeEqual(given, expected) && presented !== undefined;
  };
}

/** A stable, non-secret name for the holder of a token (plans and audit are keyed by it). */
export function subjectOfToken(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;
}
