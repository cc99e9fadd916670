import { RE2JS, RE2JSException } from 're2js';
import { REDACTED, type KnownSecrets } from '@homelab-mcp/hygiene';
import { ShardError } from '@homelab-mcp/shard-kit';
import { cleanLine, type CleanLine } from './lines.js';
import type { RawLine } from './upstream/backend.js';

/** A compiled search_logs query. */
export interface LineMatcher {
  test(text: string): boolean;
  /**
   * Whether a match may need what cleaning puts into a line (the [REDACTED]
   * that replaces a secret). When not, a line whose raw text does not match
   * cannot match once cleaned either, unless cleaning joins text across a
   * removed escape code.
   */
  mayMatchCleaning: boolean;
}

const RE2_HINT =
  'search_logs takes RE2 syntax (as Go\'s regexp): no backreferences like \\1, no lookaround like (?=x), (?!x), (?<=x) or (?<!x), ' +
  'and \\x{41} instead of \\u0041. Or search for plain text with regex=false.';

/**
 * Compiles a search. A regular expression runs on RE2's linear-time engine:
 * a caller's pattern costs time in proportion to the line, however it is
 * written, so no pattern can stall the shard (a backtracking engine takes
 * exponential time on `a(?:[a-z]|[a-z])*!`). Plain text is a literal for V8's
 * own search: nothing in it can backtrack.
 */
export function compileQuery(query: string, regex: boolean, caseSensitive: boolean): LineMatcher {
  if (!regex) {
    const literal = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), caseSensitive ? '' : 'i');
    // A match that overlaps an inserted [REDACTED] starts or ends inside it (the text has a `[` or
    // `]`) or lies within it.
    const mayMatchCleaning = /[[\]]/.test(query) || REDACTED.toLowerCase().includes(query.toLowerCase());
    return { test: (text) => literal.test(text), mayMatchCleaning };
  }
  let re: RE2JS;
  try {
    // Compiled as written first: with the flag, the engine's errors quote a `(?i)` the caller never wrote.
    re = RE2JS.compile(query);
    if (!caseSensitive) re = RE2JS.compile(query, RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    throw new ShardError('INVALID_ARGUMENT', `query is not an RE2 regular expression: ${err.message.replace(/^error parsing regexp: /, '')}`, {
      fieldViolations: [{ field: 'query', description: 'not RE2 syntax' }],
      hint: RE2_HINT,
    });
  }
  // What a pattern may match around an inserted [REDACTED] is not worth working out: every line is cleaned first.
  return { test: (text) => re.test(text), mayMatchCleaning: true };
}

/**
 * The cleaned line when it matches, judged on what the caller would see: a
 * secret is redacted before it is matched, so it cannot be probed for. Most
 * lines need no cleaning to be ruled out: one that does not match raw is
 * skipped, when cleaning could not make it match.
 */
export function matchLine(raw: RawLine, m: LineMatcher, secrets: KnownSecrets | undefined): CleanLine | undefined {
  const mustClean = m.mayMatchCleaning || raw.text.includes('\u001b');
  if (!mustClean && !m.test(raw.text)) return undefined;
  const cleaned = cleanLine(raw.text, secrets);
  return m.test(cleaned.searchable) ? cleaned : undefined;
}
