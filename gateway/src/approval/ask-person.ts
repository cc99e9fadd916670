import type { ToolEntry } from '../discovery/tool-table.js';
import { encodeMessage, summarizeResult } from '../schema/index.js';
import { redactArgs } from '../trust/audit.js';
import { answeredPlan, setPlanId } from '../call/plans.js';
import { CONFIRMATION_META_KEY } from '../call/results.js';
import type { StageResult, ToolCall } from '../call/tool-call.js';
import type { Approvals } from './approvals.js';
import { pendingText } from './wording.js';

/** `_meta` key of a dry run's answer under GATEWAY_APPROVAL=human: where its plan stands. */
export const APPROVAL_META_KEY = 'homelab-mcp/approval';

/**
 * After a dry run under GATEWAY_APPROVAL=human: the plan waits for a person.
 * A client that can ask its user shows it (yes applies it in this call, no
 * rejects it for good); otherwise, or when the question is dismissed, the
 * plan waits in the console and the answer says so, where, and for how long.
 */
export async function askPerson(call: ToolCall<ToolEntry>, approvals: Approvals, issued: { id: string; expiresAt: number }): Promise<StageResult> {
  const { spec } = call.target;
  const structured = call.structured ?? {};
  const plan = answeredPlan(spec, call.response!.message) as { summary?: string; diff?: string } | undefined;
  const shown = summarizeResult(spec, structured);
  const record = approvals.propose({
    id: issued.id,
    tool: call.name,
    subject: call.ctx.subject,
    arguments: { ...((call.args ?? {}) as Record<string, unknown>) },
    shownArguments: redactArgs(call.auditArguments(), new Set(spec.secretFields.map((f) => f.split('.').pop() ?? f))),
    summary: plan?.summary ?? '',
    diff: plan?.diff ?? '',
    text: shown,
    secretFields: spec.secretFields,
    createdAt: Date.now(),
    expiresAt: issued.expiresAt,
  });
  const meta = (status: string) => ({ [APPROVAL_META_KEY]: { status, planId: issued.id, console: approvals.consoleUrl, expiresAt: new Date(issued.expiresAt).toISOString() } });
  let answer: boolean | undefined;
  if (call.ctx.confirm) answer = await call.ctx.confirm(`${call.name} wants to make this change:\n\n${shown}\n\nApply it?`).catch(() => undefined);
  if (answer === true) {
    await approvals.approve(record.id, call.ctx.subject, 'elicitation');
    const request = call.request!;
    setPlanId(spec, request.message, issued.id);
    call.plan!.confirmed = true;
    call.startOver(encodeMessage(spec, request.message));
    return { again: 'route' };
  }
  if (answer === false) {
    approvals.reject(record.id, call.ctx.subject, 'elicitation', 'declined in the client');
    return {
      answer: {
        content: [{ type: 'text', text: `The user rejected the change; nothing was applied, and plan "${issued.id}" can no longer be applied.\n${shown}` }],
        structuredContent: structured,
        _meta: { ...meta('rejected'), [CONFIRMATION_META_KEY]: { answer: 'declined', planId: issued.id } },
      },
    };
  }
  return {
    answer: {
      content: [{ type: 'text', text: `${[shown, ...call.notes].join('\n')}\n${pendingText(record, approvals.consoleUrl, call.ctx.confirm ? 'dismissed' : 'not-asked')}` }],
      structuredContent: structured,
      _meta: meta('pending'),
    },
  };
}
