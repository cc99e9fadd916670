import type { ShardConnection } from './shard-connection.js';

/** The shards by kind (`dozzle`: the default instance and every node's), each kind's in rank order. */
export function groupByKind(shards: readonly ShardConnection[]): Map<string, ShardConnection[]> {
  const kinds = new Map<string, ShardConnection[]>();
  for (const shard of [...shards].sort((a, b) => a.target.rank - b.target.rank)) {
    const list = kinds.get(shard.target.kind) ?? [];
    list.push(shard);
    kinds.set(shard.target.kind, list);
  }
  return kinds;
}

/**
 * The instance that speaks for its kind (its contract makes the tools,
 * prompts and resources): the first serving one, else the first with a known
 * contract, so an instance going down changes nothing while another serves.
 */
export function representative(instances: readonly ShardConnection[]): ShardConnection | undefined {
  return instances.find((i) => i.isServing()) ?? instances.find((i) => i.tools().length > 0 || i.surface().resources.length > 0 || i.surface().prompts.length > 0);
}

/** The name callers use for an instance: its node, or "default" for the instance without one. */
export function nodeName(shard: ShardConnection): string {
  return shard.target.instance || 'default';
}
