import type { ApprovalRecord } from './approvals.js';

export const AWAIT_APPROVAL_TOOL = 'await_approval';

/** "in 9 min" / "in 40 s": how long a plan still lives. */
export function livesFor(expiresAt: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((expiresAt - now) / 1000));
  return s >= 120 ? `${Math.round(s / 60)} min` : `${s} s`;
}

/** What the model reads when its plan waits for a person. */
export function pendingText(record: ApprovalRecord, consoleUrl: string, asked: 'not-asked' | 'dismissed'): string {
  const where =
    asked === 'dismissed'
      ? `The user did not answer the question in the client; the plan now waits in the gateway's console (${consoleUrl})`
      : `It waits in the gateway's console (${consoleUrl})`;
  return [
    `Approval pending: this gateway requires a person to approve every change (GATEWAY_APPROVAL=human); you cannot apply plan "${record.id}" yourself.`,
    `${where} until ${new Date(record.expiresAt).toISOString()} (${livesFor(record.expiresAt)}); after that it expires and nothing is written.`,
    `Tell the user to review and approve it there, and call ${AWAIT_APPROVAL_TOOL} with plan_id "${record.id}" to wait for the decision: once approved, the gateway applies the plan itself and ${AWAIT_APPROVAL_TOOL} reports the result.`,
  ].join('\n');
}

/** Why an apply by the model itself is refused under GATEWAY_APPROVAL=human, and what to do instead. */
export function approvalRefusal(record: ApprovalRecord | undefined, planId: string, tool: string, consoleUrl: string): string {
  const head = `Refused: this gateway applies a change only after a person approves it (GATEWAY_APPROVAL=human); calling ${tool} with plan_id does not apply it.`;
  if (!record) return `${head}\nPlan "${planId}" does not wait for approval for you. Call ${tool} without plan_id to get a plan; a person approves it in the client or in the console (${consoleUrl}).`;
  const by = record.decision ? `${record.decision.by} (${record.decision.via})` : '';
  switch (record.status) {
    case 'pending':
      return `${head}\nPlan "${planId}" is waiting for a person in the console (${consoleUrl}) until ${new Date(record.expiresAt).toISOString()} (${livesFor(record.expiresAt)}). Call ${AWAIT_APPROVAL_TOOL} with plan_id "${planId}" to wait for the decision.`;
    case 'approved':
      return `${head}\nPlan "${planId}" was approved by ${by} and the gateway is applying it now. Call ${AWAIT_APPROVAL_TOOL} with plan_id "${planId}" for the result.`;
    case 'applied':
      return `${head}\nPlan "${planId}" was approved by ${by} and already applied. Nothing more to do.`;
    case 'failed':
      return `${head}\nPlan "${planId}" was approved by ${by}, but applying it failed: ${record.outcome ?? 'no reason recorded'}. Call ${tool} without plan_id for a new plan.`;
    case 'rejected':
      return `${head}\nPlan "${planId}" was rejected by ${by}: ${record.decision?.reason ?? 'no reason given'}. It can never be applied; change the request if the reason asks for it and plan again.`;
    case 'expired':
      return `${head}\nPlan "${planId}" expired before anyone approved it. Call ${tool} without plan_id for a fresh plan.`;
  }
}

/** The state of a plan after a wait, in a sentence. */
export function describeRecord(record: ApprovalRecord, consoleUrl: string): string {
  const by = record.decision ? `${record.decision.by} (${record.decision.via})` : '';
  switch (record.status) {
    case 'pending':
      return `Plan "${record.id}" (${record.tool}) still waits for a person in the console (${consoleUrl}); it expires in ${livesFor(record.expiresAt)}. Call ${AWAIT_APPROVAL_TOOL} again to keep waiting.`;
    case 'approved':
      return `Plan "${record.id}" (${record.tool}) was approved by ${by}; the gateway is applying it. Call ${AWAIT_APPROVAL_TOOL} again for the result.`;
    case 'applied':
      return `Plan "${record.id}" (${record.tool}) was approved by ${by} and applied.${record.outcome && record.outcome !== 'applied' ? `\n${record.outcome}` : ''}`;
    case 'failed':
      return `Plan "${record.id}" (${record.tool}) was approved by ${by}, but applying it failed: ${record.outcome ?? 'no reason recorded'}.`;
    case 'rejected':
      return `Plan "${record.id}" (${record.tool}) was rejected by ${by}: ${record.decision?.reason ?? 'no reason given'}. Nothing was applied.`;
    case 'expired':
      return `Plan "${record.id}" (${record.tool}) expired before anyone approved it; nothing was applied. Call ${record.tool} without plan_id for a fresh plan.`;
  }
}
