export { serve, loadDescriptorSet, type ShardContext, type ShardHandlers, type ServeOptions, type RunningShard, type ListenConfig } from './serve.js';
export { ShardError, HttpStatusError, upstreamError, toGrpcStatus, type ShardErrorCode, type ShardErrorOptions } from './errors.js';
export { shardListenConfigSchema, toListenConfig, type ShardListenEnv } from './config.js';
export { HealthReporter, type HealthProbe, type HealthState } from './health.js';
export { DescriptorSet } from './descriptor-set.js';
export { type ShardTlsFiles } from './caller-policy.js';
export { PlanBook, planRequest, type PlanRequest, type RequestCodec } from './plans.js';
export { toTimestamp, fromTimestamp, fromMs, toMs, type Timestamp, type Duration } from '@homelab-mcp/component-kit/timestamps.js';
export { encodeStatusDetails, type StatusDetails } from './status-details.js';
