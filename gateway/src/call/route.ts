import type { ToolEntry } from '../discovery/tool-table.js';
import { needsInstanceRouting, routeInstances } from '../fanout/index.js';
import { errorResult } from './results.js';
import type { Stage, StageResult, ToolCall } from './tool-call.js';

/**
 * Picks the instance that answers (or, for a list merged over several nodes,
 * all of them: see fanout/); the one picked must be serving, otherwise nothing
 * is sent and the answer says when to expect it back.
 */
export const route: Stage<ToolEntry> = {
  name: 'route',
  run(call, deps) {
    if (needsInstanceRouting(call)) return routeInstances(call, deps).then((routed) => routed ?? offline(call));
    return offline(call);
  },
};

/** Nothing when the picked instance serves; else the answer that it does not. */
function offline(call: ToolCall<ToolEntry>): StageResult {
  const { shard } = call.target;
  if (shard.isServing()) return;
  const status = shard.status();
  const name = shard.target.name;
  const state = status.state.replace('_', ' ');
  return {
    outcome: { kind: 'unavailable', code: 'SHARD_OFFLINE', reason: `shard offline: the ${name} shard is ${state}; nothing was sent` },
    answer: errorResult(
      `${call.name} is unavailable: the ${name} shard is ${state} since ${status.since.toISOString()}` +
        `${status.lastError ? ` (${status.lastError})` : ''}.\nWhat to do: check shard-${name} and the service behind it; the tool returns as soon as the shard reports SERVING. homelab_status shows every shard.`,
      { code: 'UNAVAILABLE', reason: 'SHARD_OFFLINE', shard: name, state: status.state },
    ),
  };
}
