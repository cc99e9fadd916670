import { createHash } from 'node:crypto';
import { clearField, fromBinary, toJson, type DescField, type DescMessage } from '@bufbuild/protobuf';
import type { ToolSpec } from '../schema/index.js';

const PLAN_TYPE = 'homelab.mcp.v1.Plan';

interface IssuedPlan {
  subject: string;
  tool: string;
  argsHash: string;
  expiresAt: number;
  used: boolean;
}

export class PlanRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanRefusedError';
  }
}

function planIdField(input: DescMessage): DescField | undefined {
  return input.fields.find((f) => f.name === 'plan_id' && f.fieldKind === 'scalar');
}

function planField(output: DescMessage): DescField | undefined {
  return output.fields.find((f) => f.fieldKind === 'message' && f.message.typeName === PLAN_TYPE);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether the gateway enforces plan -> apply for this tool. */
export function needsPlan(spec: ToolSpec): boolean {
  return spec.requiresConfirmation && planIdField(spec.method.input) !== undefined;
}

/**
 * Plans the gateway handed out, bound to the caller, the tool and the exact
 * arguments. The shard's own checks stay, but a client cannot skip the dry
 * run: an apply passes only with a plan this gateway issued to the same
 * subject for the same arguments, before it expires, once.
 */
export class PlanRegistry {
  private readonly plans = new Map<string, IssuedPlan>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly ttlMs: number) {
    this.sweep = setInterval(() => this.dropExpired(), Math.min(ttlMs, 60_000));
    this.sweep.unref();
  }

  /** The request's plan_id (empty when it asks for a plan) and the hash of its other arguments. */
  inspect(spec: ToolSpec, request: Uint8Array): { planId: string; argsHash: string } {
    const schema = spec.method.input;
    const field = planIdField(schema)!;
    const message = fromBinary(schema, request);
    const planId = String((message as unknown as Record<string, unknown>)[field.localName] ?? '');
    clearField(message, field);
    const canonical = stableStringify(toJson(schema, message, { alwaysEmitImplicit: false }));
    return { planId, argsHash: createHash('sha256').update(canonical).digest('hex') };
  }

  /** Consumes the plan or throws a refusal that says what to do instead. */
  redeem(subject: string, tool: string, planId: string, argsHash: string): void {
    const plan = this.plans.get(planId);
    if (!plan || plan.subject !== subject || plan.tool !== tool) {
      throw new PlanRefusedError(
        `Refused: plan "${planId}" was not issued by this gateway to you for ${tool}. Call ${tool} without plan_id to get a plan, review it, then call again with the same arguments and that plan's id.`,
      );
    }
    if (plan.used) throw new PlanRefusedError(`Refused: plan "${planId}" was already applied. Call ${tool} without plan_id for a new plan.`);
    if (Date.now() > plan.expiresAt) {
      this.plans.delete(planId);
      throw new PlanRefusedError(`Refused: plan "${planId}" expired. Call ${tool} without plan_id for a fresh plan.`);
    }
    if (plan.argsHash !== argsHash) {
      throw new PlanRefusedError(
        `Refused: plan "${planId}" was made for different arguments. Apply it with exactly the arguments of the dry run, or call ${tool} without plan_id for a plan of these arguments.`,
      );
    }
    plan.used = true;
  }

  /** Records the plan in a dry-run response; returns its id when one was issued. */
  record(subject: string, tool: string, spec: ToolSpec, argsHash: string, response: Uint8Array): string | undefined {
    const field = planField(spec.method.output);
    if (!field) return undefined;
    const message = fromBinary(spec.method.output, response) as unknown as Record<string, unknown>;
    const plan = message[field.localName] as { id?: string; noOp?: boolean; expiresAt?: { seconds: bigint; nanos: number } } | undefined;
    if (!plan?.id || plan.noOp) return undefined;
    const shardExpiry = plan.expiresAt ? Number(plan.expiresAt.seconds) * 1000 + Math.floor(plan.expiresAt.nanos / 1e6) : Infinity;
    this.plans.set(plan.id, { subject, tool, argsHash, expiresAt: Math.min(Date.now() + this.ttlMs, shardExpiry), used: false });
    return plan.id;
  }

  close(): void {
    clearInterval(this.sweep);
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [id, plan] of this.plans) if (now > plan.expiresAt) this.plans.delete(id);
  }
}
