import type { DescField, Message } from '@bufbuild/protobuf';
import { PLAN_ID_FIELD, PlanLedger, PlanRefusal, bindRequest, type PlanRefusalReason } from '@homelab-mcp/plan-binding';
import { requestJson, type ToolSpec } from '../schema/index.js';
import { toMs } from '@homelab-mcp/component-kit/timestamps.js';

const PLAN_TYPE = 'homelab.mcp.v1.Plan';

/** What the gateway keeps with a plan it handed out. */
interface IssuedTo {
  subject: string;
  tool: string;
}

/** What a dry run's answer says about its plan. */
export interface AnsweredPlan {
  id: string;
  noOp: boolean;
  expiresAt?: { seconds: bigint; nanos: number };
}

export class PlanRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanRefusedError';
  }
}

interface PlanFields {
  /** The request's plan_id; present only for tools that take plans (requires_confirmation). */
  planId?: DescField;
  /** The response's homelab.mcp.v1.Plan. */
  plan?: DescField;
}

const fieldsOf = new WeakMap<ToolSpec, PlanFields>();

function planFields(spec: ToolSpec): PlanFields {
  let fields = fieldsOf.get(spec);
  if (!fields) {
    const planId = spec.requiresConfirmation ? spec.method.input.fields.find((f) => f.name === PLAN_ID_FIELD && f.fieldKind === 'scalar') : undefined;
    const plan = spec.method.output.fields.find((f) => f.fieldKind === 'message' && f.message.typeName === PLAN_TYPE);
    fields = { ...(planId ? { planId } : {}), ...(plan ? { plan } : {}) };
    fieldsOf.set(spec, fields);
  }
  return fields;
}

function read(message: Message, field: DescField): unknown {
  return (message as unknown as Record<string, unknown>)[field.localName];
}

/** Whether the gateway enforces plan -> apply for this tool. */
export function needsPlan(spec: ToolSpec): boolean {
  return planFields(spec).planId !== undefined;
}

/** The plan id a request carries ('' for a dry run). */
export function planIdOf(spec: ToolSpec, request: Message): string {
  const field = planFields(spec).planId;
  return field ? String(read(request, field) ?? '') : '';
}

/** Sets the request's plan id: the dry run's arguments become its apply. */
export function setPlanId(spec: ToolSpec, request: Message, planId: string): void {
  const field = planFields(spec).planId;
  if (field) (request as unknown as Record<string, unknown>)[field.localName] = planId;
}

/** The plan in a dry run's answer, if it has one. */
export function answeredPlan(spec: ToolSpec, response: Message): AnsweredPlan | undefined {
  const field = planFields(spec).plan;
  return field ? (read(response, field) as AnsweredPlan | undefined) : undefined;
}

/** What a plan of this request is bound to: the same binding a shard computes for it. */
export function planBinding(spec: ToolSpec, request: Message): string {
  return bindRequest(requestJson(spec, request, 'json'));
}

function refusalText(reason: PlanRefusalReason, planId: string, tool: string): string {
  switch (reason) {
    case 'unknown':
      return `Refused: plan "${planId}" was not issued by this gateway to you for ${tool}. Call ${tool} without plan_id to get a plan, review it, then call again with the same arguments and that plan's id.`;
    case 'used':
      return `Refused: plan "${planId}" was already applied. Call ${tool} without plan_id for a new plan.`;
    case 'expired':
      return `Refused: plan "${planId}" expired. Call ${tool} without plan_id for a fresh plan.`;
    case 'mismatch':
      return `Refused: plan "${planId}" was made for different arguments. Apply it with exactly the arguments of the dry run, or call ${tool} without plan_id for a plan of these arguments.`;
  }
}

/**
 * Plans the gateway handed out, bound to the caller, the tool and the exact
 * arguments. The shard's own checks stay, but a client cannot skip the dry
 * run: an apply passes only with a plan this gateway issued to the same
 * subject for the same arguments, before it expires, once.
 */
export class PlanRegistry {
  private readonly ledger: PlanLedger<IssuedTo>;

  constructor(ttlMs: number) {
    this.ledger = new PlanLedger({ ttlMs });
  }

  /** Consumes the plan or throws a refusal that says what to do instead. */
  redeem(subject: string, tool: string, planId: string, binding: string): void {
    try {
      this.ledger.redeem(planId, binding, (issued) => issued.subject === subject && issued.tool === tool);
    } catch (err) {
      if (err instanceof PlanRefusal) throw new PlanRefusedError(refusalText(err.reason, planId, tool));
      throw err;
    }
  }

  /** Records the plan of a dry run's answer; returns its id and expiry when one was issued (a no-op plan is not). */
  record(subject: string, tool: string, binding: string, plan: AnsweredPlan | undefined): { id: string; expiresAt: number } | undefined {
    if (!plan?.id || plan.noOp) return undefined;
    const shardExpiry = plan.expiresAt ? toMs(plan.expiresAt) : Infinity;
    const expiresAt = this.ledger.issue(plan.id, binding, { subject, tool }, Math.min(Date.now() + this.ledger.ttlMs, shardExpiry));
    return { id: plan.id, expiresAt };
  }
}

