import { InvalidArgumentsError, decodeArguments } from '../schema/index.js';
import type { ToolEntry } from '../discovery/tool-table.js';
import { invalidArgumentsResult } from './results.js';
import type { OwnTool, Stage, StageResult, ToolCall } from './tool-call.js';

function refuse(call: ToolCall, err: unknown): StageResult {
  if (!(err instanceof InvalidArgumentsError)) throw err;
  return { outcome: { kind: 'invalid', reason: `validation: ${err.message}` }, answer: invalidArgumentsResult(call.name, err) };
}

/**
 * A shard tool's arguments, checked against its schema and decoded once into
 * the request message. Arguments come before the shard's state: a wrong call
 * gets the same answer whether or not the shard is up.
 */
export const validateRequest: Stage<ToolEntry> = {
  name: 'validate',
  run(call) {
    try {
      call.request = decodeArguments(call.target.spec, call.args);
    } catch (err) {
      return refuse(call, err);
    }
  },
};

/** The gateway's own tools: the same strict schema check and the same worded violations. */
export const validateOwnArguments: Stage<OwnTool> = {
  name: 'validate',
  run(call) {
    try {
      call.target.validate(call.args);
    } catch (err) {
      return refuse(call, err);
    }
  },
};
