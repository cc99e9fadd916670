import { EventEmitter } from 'node:events';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { OwnTool } from '../call/tool-call.js';

/** One diagnose_service result as the console lists it. */
export interface DiagnosisEntry {
  at: string;
  /** Who asked: an MCP caller's subject or a console user. */
  by: string;
  service: string;
  summary: string;
  isError: boolean;
  findings: { severity: string; cause: string; what: string; fix: string }[];
}

const KEEP = 10;

/**
 * The latest diagnose_service results, whoever asked (a model through /mcp
 * or a person in the console), newest first. Emits `changed` on each.
 */
export class DiagnosisLog extends EventEmitter<{ changed: [] }> {
  private readonly entries: DiagnosisEntry[] = [];

  list(): readonly DiagnosisEntry[] {
    return this.entries;
  }

  record(by: string, service: string, result: CallToolResult): DiagnosisEntry {
    const s = (result.structuredContent ?? {}) as { summary?: string; findings?: Record<string, unknown>[] };
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    const entry: DiagnosisEntry = {
      at: new Date().toISOString(),
      by,
      service,
      summary: s.summary ?? text,
      isError: result.isError === true,
      findings: (s.findings ?? []).map((f) => ({ severity: String(f.severity ?? ''), cause: String(f.cause ?? ''), what: String(f.what ?? ''), fix: String(f.fix ?? '') })),
    };
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, KEEP);
    this.emit('changed');
    return entry;
  }

  /** The same own tools, with `name`'s results recorded here. */
  watch(tools: ReadonlyMap<string, OwnTool>, name: string): ReadonlyMap<string, OwnTool> {
    const tool = tools.get(name);
    if (!tool) return tools;
    const watched: OwnTool = {
      ...tool,
      run: async (args, ctx) => {
        const result = await tool.run(args, ctx);
        this.record(ctx.subject, String(args.service ?? ''), result);
        return result;
      },
    };
    return new Map([...tools].map(([k, t]) => [k, k === name ? watched : t]));
  }
}
