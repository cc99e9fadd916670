import type { ShardConnection } from '../discovery/shard-connection.js';
import { diagnoseService, diagnoseTool, type ShardChannels } from '@homelab-mcp/composites';
import type { OwnTool } from '../call/tool-call.js';
import { InvalidArgumentsError, createArgumentsValidator } from '../schema/index.js';
import { callStatusTool, statusTool } from './status-tool.js';

/**
 * The gateway's own tools, by name. Their schemas are compiled here, once per
 * gateway; calls reach them through the same authorize and validate stages
 * as every shard tool.
 */
/** The composites borrow the gateway's one channel per shard; they never open or close one. */
function lendChannels(shards: readonly ShardConnection[]): ShardChannels {
  return {
    channelFor(service) {
      const shard = shards.find((s) => s.offers(service));
      return shard ? { address: shard.target.address, channel: shard.client.getChannel() } : undefined;
    },
    channelsFor(service) {
      // Instances that served it before and are down now count: their share is what cannot be read.
      if (!shards.some((s) => s.offers(service))) return [];
      return shards
        .filter((s) => s.offers(service) || s.status().services.includes(service))
        .map((s) => ({ node: s.target.instance, address: s.target.address, channel: s.client.getChannel(), ...(s.isServing() ? {} : { down: `${s.status().state.replace('_', ' ')}${s.status().lastError ? ` (${s.status().lastError})` : ''}` }) }));
    },
  };
}

export function createOwnTools(shards: readonly ShardConnection[], listedTools: () => number, more: readonly OwnTool[] = []): ReadonlyMap<string, OwnTool> {
  const channels = lendChannels(shards);
  const status: OwnTool = {
    definition: statusTool,
    validate: createArgumentsValidator(statusTool.inputSchema),
    run: () => callStatusTool(shards, listedTools()),
  };
  const validateDiagnose = createArgumentsValidator(diagnoseTool.inputSchema);
  const diagnose: OwnTool = {
    definition: diagnoseTool,
    validate(args) {
      validateDiagnose(args);
      if (!(args as { service: string }).service.trim()) throw new InvalidArgumentsError([{ path: 'service', message: 'must name a service or host, such as "gitea" or "gitea.home.lan"' }]);
    },
    run: (args, ctx) => {
      const { service, path, client_ip: clientIp } = args as { service: string; path?: string; client_ip?: string };
      return diagnoseService(channels, { service, path, clientIp }, ctx.signal);
    },
  };
  return new Map([status, diagnose, ...more].map((tool) => [tool.definition.name, tool]));
}

