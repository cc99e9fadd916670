import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ShardConnection, ShardStatus } from '../discovery/shard-connection.js';

export const STATUS_TOOL_NAME = 'homelab_status';

const shardSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Shard name, e.g. traefik; dozzle/nas for the instance of node nas.' },
    kind: { type: 'string', description: 'What it wraps, e.g. dozzle: instances of one kind share their tools.' },
    instance: { type: 'string', description: 'The node this instance serves (the node argument of tools that take one); empty for the default instance.' },
    address: { type: 'string', description: 'host:port the gateway dials.' },
    identity: { type: 'string', description: 'Identity its certificate must carry.' },
    state: { type: 'string', enum: ['connecting', 'serving', 'not_serving', 'unreachable', 'failed'], description: 'serving: tools listed; not_serving: shard up, its upstream down; unreachable: no connection; failed: unusable contract.' },
    since: { type: 'string', format: 'date-time', description: 'When the shard entered this state.' },
    toolCount: { type: 'integer', description: 'Tools in the shard\'s contract.' },
    services: { type: 'array', items: { type: 'string' }, description: 'gRPC services found by reflection.' },
    lastError: { type: 'string', description: 'Most recent discovery error.' },
    certificateExpiresAt: { type: 'string', format: 'date-time', description: 'Expiry of the certificate the shard presented.' },
    certificateWarning: { type: 'string', description: 'Present when that certificate expires within 30 days or has expired, with what to do.' },
  },
  required: ['name', 'kind', 'instance', 'address', 'identity', 'state', 'since', 'toolCount', 'services'],
  additionalProperties: false,
} as const;

export const statusTool: Tool = {
  name: STATUS_TOOL_NAME,
  title: 'Homelab status',
  description:
    'Report every shard the gateway knows, each instance (node) of a shard on its own: address, identity, state (serving, not_serving, unreachable, ...), since when, how many tools it offers, the last error and when its certificate expires. Use it when a tool is missing or fails with "shard offline".',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  outputSchema: {
    type: 'object',
    properties: {
      shards: { type: 'array', items: shardSchema },
      listedTools: { type: 'integer', description: 'Tools listed right now, this one included.' },
    },
    required: ['shards', 'listedTools'],
    additionalProperties: false,
  },
  annotations: { title: 'Homelab status', readOnlyHint: true, idempotentHint: true, openWorldHint: false },
};

/** Certificates expiring within this many days are warned about. */
export const CERTIFICATE_WARNING_DAYS = 30;

/** A warning for a certificate close to or past its expiry, naming the fix; undefined when it is fine. */
export function certificateWarning(identity: string, expiresAt: Date | undefined, now = Date.now()): string | undefined {
  if (!expiresAt) return undefined;
  const days = Math.floor((expiresAt.getTime() - now) / 86_400_000);
  if (days >= CERTIFICATE_WARNING_DAYS) return undefined;
  const fix = `re-issue it with \`homelab-mcp certs issue ${identity}\` (files are reloaded without a restart)`;
  return expiresAt.getTime() <= now ? `the ${identity} certificate has expired; ${fix}` : `the ${identity} certificate expires in ${days} day${days === 1 ? '' : 's'}; ${fix}`;
}

export function renderStatus(status: ShardStatus): Record<string, unknown> {
  const warning = certificateWarning(status.identity, status.certificateExpiresAt);
  return {
    name: status.name,
    kind: status.kind,
    instance: status.instance,
    address: status.address,
    identity: status.identity,
    state: status.state,
    since: status.since.toISOString(),
    toolCount: status.toolCount,
    services: status.services,
    ...(status.lastError ? { lastError: status.lastError } : {}),
    ...(status.certificateExpiresAt ? { certificateExpiresAt: status.certificateExpiresAt.toISOString() } : {}),
    ...(warning ? { certificateWarning: warning } : {}),
  };
}

export function callStatusTool(shards: readonly ShardConnection[], listedTools: number): CallToolResult {
  const rendered = shards.map((s) => renderStatus(s.status()));
  const lines = rendered.map(
    (s) =>
      `${s.name} (${s.address}, ${s.identity}): ${s.state} since ${s.since}, ${s.toolCount} tools` +
      `${s.certificateExpiresAt ? `, certificate expires ${s.certificateExpiresAt}` : ''}${s.lastError ? `; last error: ${s.lastError}` : ''}` +
      `${s.certificateWarning ? `\n  WARNING: ${s.certificateWarning}` : ''}`,
  );
  const text = shards.length === 0 ? 'No shards are configured (set SHARD_<NAME>_URL or GATEWAY_CONFIG).' : lines.join('\n');
  return { content: [{ type: 'text', text }], structuredContent: { shards: rendered, listedTools } };
}
