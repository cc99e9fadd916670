import type { ToolEntry } from '../discovery/tool-table.js';
import { mergeResponses, readResponse } from '../schema/index.js';
import { errorResult } from './results.js';
import type { Stage } from './tool-call.js';

/** The shard's answer decoded once (a stream's messages merged first): the message and its JSON. */
export const decode: Stage<ToolEntry> = {
  name: 'decode',
  run(call) {
    const { spec, shard } = call.target;
    const { chunks, truncated } = call.received!;
    if (truncated) call.notes.push(`(Stopped after ${chunks.length} messages, the gateway's limit; narrow the request for the rest.)`);
    try {
      call.response = readResponse(spec, spec.streaming ? mergeResponses(spec, chunks) : (chunks[0] ?? new Uint8Array()));
    } catch (err) {
      // The call happened; only its answer is beyond what protobuf decoding takes (nesting past 100 levels, say).
      const message = err instanceof Error ? err.message : String(err);
      const shardName = shard.target.name;
      return {
        outcome: { kind: 'failed', code: 'INTERNAL', reason: `unreadable answer: ${message}` },
        answer: errorResult(
          `${call.name} failed: the ${shardName} shard's answer could not be read (${message}).\nWhat to do: the call itself ran${call.readOnly ? '' : ', so a change may have been made'}; narrow the request, or look at the data behind it outside homelab-mcp.`,
          { code: 'INTERNAL', reason: 'UNREADABLE_ANSWER', message, shard: shardName },
        ),
      };
    }
    const { json } = call.response;
    return { outcome: { kind: 'ok', ...(json.applied === true ? { effect: 'applied' as const } : json.plan ? { effect: 'planned' as const } : {}) } };
  },
};
