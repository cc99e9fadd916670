import { LogLevel } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import type { Check, Finding } from '../types.js';

const STATUS = /\s([45]\d\d)(?:\s|$)/;

/** The app's own errors and 4xx/5xx answers: symptoms, reported after every cause on the way. */
export const appLogsCheck: Check = {
  id: 'app-logs',
  needs: ['logs'],
  irrelevant: (f) => (f.logs?.size ? undefined : 'no container logs belong to this request'),
  run(f) {
    const out: Finding[] = [];
    for (const [c, lines] of f.logs ?? []) {
      const name = c.name;
      const errors = lines.filter((l) => l.level >= LogLevel.LOG_LEVEL_ERROR);
      const statuses = lines.map((l) => STATUS.exec(l.text)?.[1]).filter((s): s is string => Boolean(s));
      const fives = statuses.filter((s) => s.startsWith('5'));
      if (errors.length || fives.length) {
        out.push({ severity: 'warning', cause: 'app', check: 'app-logs', what: `${name} logged ${errors.length} error line${errors.length === 1 ? '' : 's'}${fives.length ? ` and ${fives.length} 5xx answers` : ''} in its last ${lines.length} lines.`, evidence: errors.slice(-3).map((l) => l.text), fix: `Read the errors in context (the tool call below).`, fix_tool: { name: 'search_logs', arguments: { query: 'error', containers: [name], ...(c.node ? { node: c.node } : {}) } } });
      } else if (statuses.length) {
        const counts = statuses.reduce<Record<string, number>>((acc, s) => ((acc[s] = (acc[s] ?? 0) + 1), acc), {});
        out.push({ severity: 'info', cause: 'app', check: 'app-logs', what: `${name} answered ${Object.entries(counts).map(([k, v]) => `${k} × ${v}`).join(', ')} recently.`, evidence: [], fix: 'Nothing to change unless these are unexpected.' });
      }
    }
    return out;
  },
};
