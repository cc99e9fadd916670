export { serve, handleSignals, loadDescriptorSet, type ShardContext, type ShardHandlers, type ServeOptions, type RunningShard, type ListenConfig } from './serve.js';
export { ShardError, HttpStatusError, upstreamError, toGrpcStatus, type ShardErrorCode, type ShardErrorOptions } from './errors.js';
export { loadConfig, shardListenConfigSchema, toListenConfig, reportReady, ConfigError, type ShardListenEnv } from './config.js';
export { HealthReporter, type HealthProbe, type HealthState } from './health.js';
export { DescriptorSet } from './descriptor-set.js';
export { peerIdentity, type ShardTlsFiles } from './tls.js';
export { PlanBook, planRequest, toTimestamp, type PlanRequest, type RequestCodec } from './plans.js';
export { encodeStatusDetails, type StatusDetails } from './status-details.js';
