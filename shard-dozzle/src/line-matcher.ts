import { RE2JS, RE2JSException } from 're2js';
import { REDACTED, type KnownSecrets } from '@homelab-mcp/hygiene';
import { ShardError } from '@homelab-mcp/shard-kit';
import { cleanLine, type CleanLine } from './lines.js';
import type { RawLine } from './upstream/backend.js';

type TextTest = (text: string) => boolean;

/** A compiled search_logs query. */
export interface LineMatcher {
  /** Whether a cleaned line matches. */
  test: TextTest;
  /**
   * A cheap test of a raw line (without escape codes) that is false only when
   * the line cannot match once cleaned either; absent when there is none, and
   * then every line is cleaned before it is matched.
   */
  rawMayMatch?: TextTest;
}

const escapeLiteral = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Whether cleaning can put a literal into a line that did not hold it: an
 * occurrence that overlaps an inserted [REDACTED] starts or ends inside it (so
 * the literal has a `[` or `]`) or lies within it. Any other occurrence in the
 * cleaned text was in the raw text too.
 */
const cleaningMayAdd = (literal: string) => /[[\]]/.test(literal) || REDACTED.toLowerCase().includes(literal.toLowerCase());

type PrefilterNode = { type?: unknown; str?: unknown; subs?: unknown };
type Literals = { test: TextTest; strings: string[] };

/**
 * The literals a pattern requires, from RE2's prefilter (which re2js itself
 * uses only for case-sensitive patterns), each looked for with V8's own
 * search: lines without them are ruled out before the automaton runs. Nodes
 * are none (0), a literal (1), all of (2), any of (3); anything else means no
 * prefilter, so a change inside re2js costs speed, never matches.
 */
function requiredLiterals(node: PrefilterNode | null | undefined, flags: string): Literals | undefined {
  if (!node) return undefined;
  if (node.type === 1 && typeof node.str === 'string' && node.str) {
    // Unicode case folding, as RE2's: k also matches the Kelvin sign.
    const re = new RegExp(escapeLiteral(node.str), flags);
    return { test: (text) => re.test(text), strings: [node.str] };
  }
  if ((node.type !== 2 && node.type !== 3) || !Array.isArray(node.subs) || !node.subs.length) return undefined;
  const subs = (node.subs as PrefilterNode[]).map((n) => requiredLiterals(n, flags));
  // Fewer of the literals all required is still a necessary condition; one unknown alternative is not.
  const known = subs.filter((s) => s !== undefined);
  if (!known.length || (node.type === 3 && known.length < subs.length)) return undefined;
  const tests = known.map((s) => s.test);
  return {
    test: node.type === 2 ? (text) => tests.every((f) => f(text)) : (text) => tests.some((f) => f(text)),
    strings: known.flatMap((s) => s.strings),
  };
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
    const literal = new RegExp(escapeLiteral(query), caseSensitive ? '' : 'i');
    const test: TextTest = (text) => literal.test(text);
    return cleaningMayAdd(query) ? { test } : { test, rawMayMatch: test };
  }
  let re: RE2JS;
  let literals: Literals | undefined;
  try {
    // Compiled as written first: with the flag, the engine's errors quote a `(?i)` the caller never wrote.
    re = RE2JS.compile(query);
    literals = requiredLiterals((re as unknown as { re2Input?: { prefilter?: PrefilterNode } }).re2Input?.prefilter, caseSensitive ? 'u' : 'iu');
    if (!caseSensitive) re = RE2JS.compile(query, RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    throw new ShardError('INVALID_ARGUMENT', `query is not an RE2 regular expression: ${err.message.replace(/^error parsing regexp: /, '')}`, {
      fieldViolations: [{ field: 'query', description: 'not RE2 syntax' }],
      hint: RE2_HINT,
    });
  }
  if (!literals) return { test: (text) => re.test(text) };
  const { test: has } = literals;
  const test: TextTest = (text) => has(text) && re.test(text);
  // Every literal present once cleaned was present raw: a raw line without them cannot match.
  return literals.strings.some(cleaningMayAdd) ? { test } : { test, rawMayMatch: has };
}

/**
 * The cleaned line when it matches, judged on what the caller would see: a
 * secret is redacted before it is matched, so it cannot be probed for. Most
 * lines are ruled out on their raw text without being cleaned.
 */
export function matchLine(raw: RawLine, m: LineMatcher, secrets: KnownSecrets | undefined): CleanLine | undefined {
  // Removing an escape code joins the text around it, which may then match.
  if (m.rawMayMatch && !raw.text.includes('\u001b') && !m.rawMayMatch(raw.text)) return undefined;
  const cleaned = cleanLine(raw.text, secrets);
  return m.test(cleaned.searchable) ? cleaned : undefined;
}
