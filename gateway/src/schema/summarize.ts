/** Longest text rendering; the full result is always in structuredContent. */
export const TEXT_LIMIT = 8_000;
const LIST_LIMIT = 50;

function isEmpty(v: unknown): boolean {
  return v === '' || v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
}

function scalarText(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-][\w ./:@+,=-]*$/.test(v) && !/^(true|false|null|-?\d[\d.e+-]*)$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/**
 * A YAML-like outline: one `key: value` per line, nested values indented,
 * empty values left out, long lists cut, multi-line strings (YAML, diffs,
 * log lines) kept readable as indented blocks.
 */
function render(value: unknown, indent: string, out: string[], budget: { left: number }): void {
  const emit = (line: string) => {
    budget.left -= line.length + 1;
    out.push(line);
  };
  if (Array.isArray(value)) {
    value.slice(0, LIST_LIMIT).forEach((item) => {
      if (budget.left <= 0) return;
      if (item && typeof item === 'object' && !Array.isArray(item)) {
        const lines: string[] = [];
        render(item, `${indent}  `, lines, budget);
        const first = lines[0]?.slice(indent.length + 2) ?? '{}';
        emit(`${indent}- ${first}`);
        for (const l of lines.slice(1)) emit(l);
      } else {
        emit(`${indent}- ${typeof item === 'string' && item.includes('\n') ? JSON.stringify(item) : scalarText(item)}`);
      }
    });
    if (value.length > LIST_LIMIT) emit(`${indent}… ${value.length - LIST_LIMIT} more`);
    return;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (budget.left <= 0) return;
      if (isEmpty(v)) continue;
      if (typeof v === 'string' && v.includes('\n')) {
        emit(`${indent}${k}: |`);
        for (const l of v.replace(/\n$/, '').split('\n')) emit(`${indent}  ${l}`);
      } else if (Array.isArray(v)) {
        emit(`${indent}${k} (${v.length}):`);
        render(v, `${indent}  `, out, budget);
      } else if (v && typeof v === 'object') {
        emit(`${indent}${k}:`);
        render(v, `${indent}  `, out, budget);
      } else {
        emit(`${indent}${k}: ${scalarText(v)}`);
      }
    }
    return;
  }
  emit(`${indent}${scalarText(value)}`);
}

const LEAD_KEYS = ['message', 'summary'];

/** The text content of a result: its message or summary first, then an outline of the rest. */
export function renderResult(json: Record<string, unknown>): string {
  const leadKey = LEAD_KEYS.find((k) => typeof json[k] === 'string' && json[k].trim() !== '');
  const lead = leadKey === undefined ? undefined : String(json[leadKey]);
  const rest = leadKey === undefined ? json : Object.fromEntries(Object.entries(json).filter(([k]) => k !== leadKey));
  const lines: string[] = [];
  const budget = { left: TEXT_LIMIT };
  render(rest, '', lines, budget);
  let body = lines.join('\n');
  if (budget.left <= 0) body = `${body.slice(0, TEXT_LIMIT)}\n… (cut here; the full result is in structuredContent)`;
  const text = [lead, body].filter(Boolean).join('\n');
  return text || '(empty result)';
}
