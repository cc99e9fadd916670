import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { OwnTool } from '../call/tool-call.js';
import { createArgumentsValidator } from '../schema/index.js';
import type { ApprovalRecord, Approvals } from './approvals.js';
import { AWAIT_APPROVAL_TOOL, describeRecord, livesFor } from './wording.js';

const DEFAULT_WAIT_SECONDS = 50;
/** How often a waiting call reports progress (it also keeps the client's request timeout from firing). */
const TICK_MS = 5000;

export const awaitApprovalTool: Tool = {
  name: AWAIT_APPROVAL_TOOL,
  title: 'Wait for approval',
  description:
    'Wait until a person approves or rejects a plan that needs approval (this gateway runs with GATEWAY_APPROVAL=human), reporting progress while it waits. ' +
    'Once approved, the gateway applies the plan itself and this tool returns the result. Returns the status: applied, failed, rejected (with who and why), expired, ' +
    'or pending when the wait ended first (call it again).',
  inputSchema: {
    type: 'object',
    properties: {
      plan_id: { type: 'string', minLength: 1, description: 'The plan id a dry run returned, e.g. "p-3f2a...".' },
      timeout_seconds: { type: 'integer', minimum: 1, maximum: 600, default: DEFAULT_WAIT_SECONDS, description: `How long to wait at most (default ${DEFAULT_WAIT_SECONDS}).` },
    },
    required: ['plan_id'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      plan_id: { type: 'string' },
      tool: { type: 'string', description: 'The tool the plan belongs to.' },
      status: { type: 'string', enum: ['pending', 'approved', 'applied', 'failed', 'rejected', 'expired'] },
      expires_at: { type: 'string', format: 'date-time', description: 'When the plan stops being usable.' },
      decided_by: { type: 'string', description: 'Who approved or rejected it.' },
      via: { type: 'string', enum: ['elicitation', 'console'], description: 'Where they decided.' },
      reason: { type: 'string', description: 'Why it was rejected.' },
      outcome: { type: 'string', description: 'What applying it did.' },
    },
    required: ['plan_id', 'tool', 'status', 'expires_at'],
    additionalProperties: false,
  },
  annotations: { title: 'Wait for approval', readOnlyHint: true, idempotentHint: true, openWorldHint: false },
};

function resultOf(record: ApprovalRecord, consoleUrl: string): CallToolResult {
  const { decision } = record;
  return {
    content: [{ type: 'text', text: describeRecord(record, consoleUrl) }],
    structuredContent: {
      plan_id: record.id,
      tool: record.tool,
      status: record.status,
      expires_at: new Date(record.expiresAt).toISOString(),
      ...(decision ? { decided_by: decision.by, via: decision.via, ...(decision.reason ? { reason: decision.reason } : {}) } : {}),
      ...(record.outcome ? { outcome: record.outcome } : {}),
    },
    ...(record.status === 'failed' || record.status === 'rejected' || record.status === 'expired' ? { isError: true } : {}),
  };
}

/** await_approval: the model waits for a person's decision on its own plan, with progress while it waits. */
export function createAwaitApprovalTool(approvals: Approvals): OwnTool {
  return {
    definition: awaitApprovalTool,
    validate: createArgumentsValidator(awaitApprovalTool.inputSchema),
    async run(args, ctx) {
      const planId = String(args.plan_id);
      const record = approvals.get(planId);
      // Plans of other callers are not theirs to watch: they look the same as unknown ones.
      if (!record || record.subject !== ctx.subject) {
        return {
          isError: true,
          content: [{ type: 'text', text: `No plan "${planId}" of yours waits for approval. Use the plan id a dry run returned to you; plans are kept while the gateway runs.` }],
        };
      }
      const waitMs = Math.min(Number(args.timeout_seconds ?? DEFAULT_WAIT_SECONDS) * 1000, Math.max(0, record.expiresAt - Date.now()) + 1000);
      const started = Date.now();
      const report = () => {
        if (!ctx.sendProgress) return;
        const elapsed = Math.round((Date.now() - started) / 1000);
        void ctx.sendProgress(elapsed, `waiting for a person to approve plan ${planId} in the console (${approvals.consoleUrl}); it expires in ${livesFor(record.expiresAt)}`, Math.round(waitMs / 1000)).catch(() => undefined);
      };
      if (record.status === 'pending' || record.status === 'approved') report();
      const settled = await approvals.wait(planId, waitMs, ctx.signal, report, TICK_MS);
      return resultOf(settled, approvals.consoleUrl);
    },
  };
}
