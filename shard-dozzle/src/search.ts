import type { LogLevel, LogLine, LogMatch } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { matchLine, type LineMatcher } from './line-matcher.js';
import { cleanLine, toLogLine } from './lines.js';
import type { ContainerInfo, LogBackend, LogQuery } from './upstream/backend.js';

/** What one search_logs call looks for and how far it may go, across all its containers. */
export interface SearchPlan {
  matcher: LineMatcher;
  query: LogQuery;
  /** Only matches at these levels count (empty: every level). */
  levels: ReadonlySet<LogLevel>;
  /** Lines of context before and after each match. */
  context: number;
  maxMatches: number;
  /** Epoch ms after which the search stops, so the answer comes before the caller's deadline. */
  budgetEnd: number;
}

/** What searching one container found; `stopped` says why the whole search ends here, if it does. */
export interface ContainerSearch {
  matches: LogMatch[];
  scanned: number;
  stopped: string;
}

/**
 * Scans one container's logs for matches with their context lines. `matchedSoFar`
 * counts the matches of the containers before it, which share max_matches.
 */
export async function searchContainer(backend: LogBackend, c: ContainerInfo, name: string, plan: SearchPlan, matchedSoFar: number, signal: AbortSignal): Promise<ContainerSearch> {
  const matches: LogMatch[] = [];
  const before: LogLine[] = [];
  const open: { m: LogMatch; left: number }[] = [];
  let scanned = 0;
  for await (const batch of backend.logs(c, plan.query, signal)) {
    if (Date.now() > plan.budgetEnd) return { matches, scanned, stopped: `stopped after the time budget while searching ${name}; narrow the time range or the containers` };
    for (const raw of batch) {
      scanned++;
      const matched = matchLine(raw, plan.matcher, c.secrets);
      if (!matched && !plan.context && !open.length) continue;
      const line = toLogLine(raw, matched ?? cleanLine(raw.text, c.secrets));
      for (const o of open) {
        o.m.after.push(line);
        o.left--;
      }
      while (open.length && (open[0]?.left ?? 0) <= 0) open.shift();
      if (matched && (!plan.levels.size || plan.levels.has(line.level))) {
        const m: LogMatch = { container: name, node: '', line, before: [...before], after: [] };
        matches.push(m);
        if (plan.context) open.push({ m, left: plan.context });
        if (matchedSoFar + matches.length >= plan.maxMatches) return { matches, scanned, stopped: `stopped at ${plan.maxMatches} matches (max_matches); raise it or narrow the search` };
      }
      if (plan.context) {
        before.push(line);
        if (before.length > plan.context) before.shift();
      }
    }
  }
  return { matches, scanned, stopped: '' };
}
