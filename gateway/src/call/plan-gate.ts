import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolEntry } from '../discovery/tool-table.js';
import { encodeMessage, summarizeResult } from '../schema/index.js';
import { PlanRefusedError, answeredPlan, needsPlan, planBinding, planIdOf, setPlanId } from './plans.js';
import { CONFIRMATION_META_KEY, errorResult } from './results.js';
import type { Stage, ToolCall } from './tool-call.js';
import { askPerson } from '../approval/ask-person.js';
import { approvalRefusal } from '../approval/wording.js';

/**
 * Before the shard is called: a tool that takes plans either asks for one (a
 * dry run) or applies one, which passes only with a plan this gateway issued
 * to the same caller for the same arguments, unexpired and unused.
 */
export const planGate: Stage<ToolEntry> = {
  name: 'plan-gate',
  run(call, deps) {
    const { spec } = call.target;
    const request = call.request!;
    if (!needsPlan(spec)) return;
    // The binding leaves the plan id out: computed once, it holds for the dry run and its apply.
    call.plan ??= { binding: planBinding(spec, request.message), id: '', confirmed: false };
    call.plan.id = planIdOf(spec, request.message);
    if (!call.plan.id) return;
    // Under GATEWAY_APPROVAL=human only a person's yes opens the gate: in this call (elicitation) or in the console.
    const { approvals } = deps;
    if (approvals && !call.plan.confirmed && call.ctx.approval?.planId !== call.plan.id) {
      const record = approvals.get(call.plan.id);
      const mine = record?.subject === call.ctx.subject && record.tool === call.name ? record : undefined;
      return {
        outcome: { kind: 'refused', reason: `approval: ${mine ? `plan ${mine.status}` : 'no approval'}; only a person applies plans` },
        answer: errorResult(approvalRefusal(mine, call.plan.id, call.name, approvals.consoleUrl), { code: 'FAILED_PRECONDITION', reason: 'APPROVAL_REQUIRED', planId: call.plan.id, ...(mine ? { status: mine.status } : {}) }),
      };
    }
    try {
      deps.plans.redeem(call.ctx.subject, call.name, call.plan.id, call.plan.binding);
    } catch (err) {
      if (!(err instanceof PlanRefusedError)) throw err;
      return { outcome: { kind: 'refused', reason: `plan: ${err.message}` }, answer: errorResult(err.message, { code: 'FAILED_PRECONDITION', reason: 'PLAN_REFUSED' }) };
    }
  },
};

function declined(call: ToolCall<ToolEntry>, planId: string, shown: string, answer: boolean | undefined): CallToolResult {
  const why = answer === false ? 'The user declined the change; nothing was applied.' : 'The user did not confirm (the question was dismissed or could not be shown); nothing was applied.';
  return {
    content: [{ type: 'text', text: `${why}\n${shown}\nTo apply it anyway, call ${call.name} again with the same arguments and plan_id "${planId}".` }],
    // The result stays the dry run's (it matches the tool's output schema); the answer travels in _meta.
    ...(call.structured ? { structuredContent: call.structured } : {}),
    _meta: { [CONFIRMATION_META_KEY]: { answer: answer === false ? 'declined' : 'unconfirmed', planId } },
  };
}

/**
 * After a dry run: the gateway records the plan its answer holds. When the
 * client can ask its user, the plan is shown and, on an explicit yes, the
 * same call goes round again as the apply (back to route, through the plan
 * gate). Otherwise the answer says how to apply it; nothing changed.
 */
export const confirm: Stage<ToolEntry> = {
  name: 'confirm',
  async run(call, deps) {
    const plan = call.plan;
    if (!plan || plan.id) return;
    const { spec } = call.target;
    const issued = deps.plans.record(call.ctx.subject, call.name, plan.binding, answeredPlan(spec, call.response!.message));
    if (!issued) return;
    if (deps.approvals) return askPerson(call, deps.approvals, issued);
    if (!call.ctx.confirm) {
      call.notes.push(`This is a plan; nothing changed yet. To apply it, call ${call.name} again with the same arguments and plan_id "${issued.id}".`);
      return;
    }
    const shown = summarizeResult(spec, call.structured ?? {});
    const answer = await call.ctx.confirm(`${call.name} wants to make this change:\n\n${shown}\n\nApply it?`).catch(() => undefined);
    if (answer !== true) return { answer: declined(call, issued.id, shown, answer) };
    const request = call.request!;
    setPlanId(spec, request.message, issued.id);
    plan.confirmed = true;
    call.startOver(encodeMessage(spec, request.message));
    return { again: 'route' };
  },
};
