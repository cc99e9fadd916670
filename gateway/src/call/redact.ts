import { cleanJson } from '@homelab-mcp/hygiene';
import type { ToolEntry } from '../discovery/tool-table.js';
import { redactOutput } from '../schema/index.js';
import type { Stage } from './tool-call.js';

/** Output hygiene: fields the contract marks secret, and anything secret-looking or escape-coded, never reach the model. */
export const redact: Stage<ToolEntry> = {
  name: 'redact',
  run(call) {
    const cleaned = cleanJson(redactOutput(call.target.spec, call.response!.json));
    call.structured = cleaned.value;
    const n = cleaned.redactions;
    if (n) call.notes.push(`(${n} secret-looking value${n === 1 ? ' was' : 's were'} redacted.)`);
  },
};
