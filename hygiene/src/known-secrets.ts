import { applyRules, REDACTED } from './rules.js';

const SECRET_KEY = /(pass(word|wd)?|token|secret|api[_-]?key|private[_-]?key|authorization|credential)/i;

/** Whether a field name says its value is secret (for audit logs, environment variables, labels). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Shorter values, or only digits, are not hidden everywhere: that would hide ordinary words and numbers. */
const MIN_LENGTH = 6;
/** DB_PASSWORD_FILE=/run/secrets/db names where a secret is, not the secret. */
const POINTER = /_(FILE|PATH|DIR)$/i;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Exact values to redact wherever they appear, such as the secrets a container
 * was started with: an application that logs its password without a `password=`
 * in front of it still shows [REDACTED]. Never serialised: a logger or
 * JSON.stringify sees `[REDACTED]`.
 */
export class KnownSecrets {
  readonly #find: RegExp;
  readonly #test: RegExp;

  private constructor(values: string[]) {
    // Longest first, so a secret that contains another is replaced whole.
    const source = values.sort((a, b) => b.length - a.length).map(escape).join('|');
    this.#find = new RegExp(source, 'g');
    this.#test = new RegExp(source);
  }

  /** The values worth hiding among these; undefined when there are none. */
  static of(values: Iterable<string>): KnownSecrets | undefined {
    const keep = [...new Set(values)].filter((v) => v.length >= MIN_LENGTH && !/^\d+$/.test(v) && v !== REDACTED);
    return keep.length ? new KnownSecrets(keep) : undefined;
  }

  /** Whether the text holds one of the values. */
  test(text: string): boolean {
    return this.#test.test(text);
  }

  /** The text with every value replaced; `count` is told how many. */
  redact(text: string, count: () => void): string {
    return text.replace(this.#find, () => (count(), REDACTED));
  }

  toJSON(): string {
    return REDACTED;
  }
}

/**
 * The secrets among what a service was configured with: the values of
 * name/value pairs (environment variables, labels) whose name says secret or
 * whose `name=value` the patterns redact (DATABASE_URL=postgres://u:pw@db), and
 * whatever the patterns find in free text (command lines, healthcheck commands).
 */
export function findSecrets(pairs: Iterable<readonly [string, string]>, texts: Iterable<string> = []): KnownSecrets | undefined {
  const found: string[] = [];
  const collect = (v: string) => found.push(v);
  for (const [name, value] of pairs) {
    if (isSecretKey(name) && !POINTER.test(name)) found.push(value);
    applyRules(`${name}=${value}`, collect);
  }
  for (const text of texts) applyRules(text, collect);
  return KnownSecrets.of(found);
}
