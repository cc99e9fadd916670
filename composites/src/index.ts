export { type ShardChannels } from './shard-clients.js';
export { diagnoseService, diagnoseTool, DIAGNOSE_TOOL_NAME, type DiagnoseResult } from './diagnose/index.js';
export type { Finding, CauseClass } from './diagnose/types.js';
