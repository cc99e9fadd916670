import { ErrorCode, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolEntry } from '../discovery/tool-table.js';
import { toolNameProblem } from '../discovery/tool-names.js';
import { authorize } from './authorize.js';
import { decode } from './decode.js';
import { invoke } from './invoke.js';
import { confirm, planGate } from './plan-gate.js';
import { redact } from './redact.js';
import { render } from './render.js';
import { ProtocolError } from './results.js';
import { route } from './route.js';
import { ToolCall, runStages, type CallContext, type CallDeps, type OwnTool, type Stage } from './tool-call.js';
import { validateOwnArguments, validateRequest } from './validate.js';

/*
 * A tools/call is one ToolCall passed through named stages; each stage adds
 * what it learns to the call or ends it with an answer, and every outcome
 * goes to the observers (metrics, audit, log). New behaviour is a new stage
 * in these lists: streamed content and log messages in invoke's stream,
 * fan-out as a route that picks several instances with decode merging their
 * answers, resources and prompts read by an RPC as these stages from validate
 * to redact with their own render, a shard asking the user or the client's
 * model mid-call as a stage that answers and goes back to invoke (as confirm
 * goes back to route).
 */
const SHARD_TOOL: readonly Stage<ToolEntry>[] = [authorize, validateRequest, route, planGate, invoke, decode, redact, confirm, render];

/** The gateway's own tools have no shard to call: they run in place, after the same checks. */
const runOwn: Stage<OwnTool> = {
  name: 'run',
  async run(call) {
    call.sentAt = Date.now();
    const answer = await call.target.run((call.args ?? {}) as Record<string, unknown>, call.ctx);
    return { outcome: { kind: answer.isError ? 'failed' : 'ok' }, answer };
  },
};

const OWN_TOOL: readonly Stage<OwnTool>[] = [authorize, validateOwnArguments, runOwn];

/** tools/call: the gateway's own tool or a shard's, by name; an unknown name is a JSON-RPC error. */
export async function callTool(deps: CallDeps, name: string, args: unknown, ctx: CallContext): Promise<CallToolResult> {
  const own = deps.ownTools.get(name);
  if (own) return runStages(new ToolCall(name, own, args, ctx), OWN_TOOL, deps);
  const entry = deps.table.find(name);
  if (!entry) {
    const problem = toolNameProblem(name);
    throw new ProtocolError(ErrorCode.InvalidParams, `Unknown tool "${name}".${problem ? ` ${problem.replace(/\.?$/, '.')}` : ''} Call tools/list for the tools available now.`);
  }
  return runStages(new ToolCall(name, entry, args, ctx), SHARD_TOOL, deps);
}
