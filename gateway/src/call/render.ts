import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolEntry } from '../discovery/tool-table.js';
import { summarizeResult } from '../schema/index.js';
import { toContentBlock } from '../surface/content.js';
import type { Stage } from './tool-call.js';

/** The result: structuredContent as decoded and cleaned, and a short text rendering ending with the call's notes. */
export const render: Stage<ToolEntry> = {
  name: 'render',
  run(call) {
    const structured = call.structured ?? {};
    const rich = (call.response?.content ?? []).flatMap((c) => toContentBlock(c) ?? []);
    const result: CallToolResult = { content: [{ type: 'text', text: [summarizeResult(call.target.spec, structured), ...call.notes].join('\n') }, ...rich], structuredContent: structured };
    if (call.plan?.confirmed) result.content.unshift({ type: 'text', text: 'The user confirmed the plan; it was applied.' });
    return { answer: result };
  },
};
