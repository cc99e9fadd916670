import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  calls: Counter<'tool' | 'shard' | 'outcome'>;
  errors: Counter<'tool' | 'shard' | 'code'>;
  latency: Histogram<'tool' | 'shard'>;
  shardUp: Gauge<'shard' | 'state'>;
  sessions: Gauge;
  limited: Counter;
}

/** One registry per gateway, so tests can run several gateways in one process. */
export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  return {
    registry,
    calls: new Counter({ name: 'homelab_mcp_tool_calls_total', help: 'Tool calls by tool, shard and outcome (ok, error, invalid, refused).', labelNames: ['tool', 'shard', 'outcome'], registers: [registry] }),
    errors: new Counter({ name: 'homelab_mcp_tool_errors_total', help: 'Failed tool calls by gRPC status code.', labelNames: ['tool', 'shard', 'code'], registers: [registry] }),
    latency: new Histogram({
      name: 'homelab_mcp_tool_call_duration_seconds',
      help: 'Tool call latency through the gateway.',
      labelNames: ['tool', 'shard'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    shardUp: new Gauge({ name: 'homelab_mcp_shard_up', help: '1 while the shard is SERVING (its tools are listed), else 0; state names the discovery state.', labelNames: ['shard', 'state'], registers: [registry] }),
    sessions: new Gauge({ name: 'homelab_mcp_sessions', help: 'Open MCP sessions.', registers: [registry] }),
    limited: new Counter({ name: 'homelab_mcp_requests_limited_total', help: 'Requests answered 429 by the per-subject rate limit or in-flight cap.', registers: [registry] }),
  };
}
