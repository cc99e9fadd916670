import { watchFile, unwatchFile } from 'node:fs';
import type { Logger } from 'pino';
import type { ShardTarget } from '../config.js';
import type { ShardConnection } from './shard-connection.js';

/** How often GATEWAY_CONFIG is looked at (stat, not an inotify watch: an editor's or a deployment's rename-over-the-file is seen too). */
const POLL_MS = 1000;

export interface ShardListHooks {
  create(target: ShardTarget): ShardConnection;
  /** A connection joined the list (started by the caller). */
  added(shard: ShardConnection): void;
  /** A connection left the list (it is closed next). */
  removed(shard: ShardConnection): void;
}

/** What a connection is made from (targets are plain data, built in one order by the configuration's parser). */
const connectedWith = ({ rank: _rank, services: { reserved: _reserved, ...services }, ...rest }: ShardTarget) => JSON.stringify({ ...rest, services });

/**
 * Brings the live shard list in line with the configuration: new shards (an
 * instance for a new node) join, removed ones are closed and leave, changed
 * ones (another address or identity) are replaced; the others keep their
 * connection and state. `shards` is changed in place: everything that holds
 * it sees the new list.
 */
export async function reconcileShards(shards: ShardConnection[], next: readonly ShardTarget[], hooks: ShardListHooks): Promise<void> {
  const wanted = new Map(next.map((t) => [t.name, t]));
  for (const shard of [...shards]) {
    const target = wanted.get(shard.target.name);
    if (target && connectedWith(target) === connectedWith(shard.target)) {
      // Kept; its place among its kind may have moved (an instance before it came or went).
      shard.retarget(target);
      continue;
    }
    // Out of the list and the tables before its channel closes: no call is routed to a closing connection.
    shards.splice(shards.indexOf(shard), 1);
    hooks.removed(shard);
    await shard.close();
  }
  for (const target of next) {
    if (shards.some((s) => s.target.name === target.name)) continue;
    const shard = hooks.create(target);
    shards.push(shard);
    hooks.added(shard);
  }
}

/**
 * Re-reads the shard list whenever GATEWAY_CONFIG changes: adding a node's
 * instance there lists its share without a restart. A file that does not
 * parse is logged and changes nothing. Returns a function that stops watching
 * (and waits for a change under way).
 */
export function watchShardFile(file: string, reread: () => readonly ShardTarget[], shards: ShardConnection[], hooks: ShardListHooks, logger: Logger): () => Promise<void> {
  let queue = Promise.resolve();
  const onChange = () => {
    queue = queue.then(async () => {
      let next: readonly ShardTarget[];
      try {
        next = reread();
      } catch (err) {
        logger.warn({ file, err: err instanceof Error ? err.message : String(err) }, 'GATEWAY_CONFIG changed but cannot be used; the shards stay as they are');
        return;
      }
      const before = shards.map((s) => s.target.name).join(',');
      await reconcileShards(shards, next, hooks);
      const after = shards.map((s) => s.target.name).join(',');
      if (before !== after) logger.info({ file, shards: after }, 'shard list re-read from GATEWAY_CONFIG');
    });
  };
  watchFile(file, { interval: POLL_MS, persistent: false }, onChange);
  return () => {
    unwatchFile(file, onChange);
    return queue;
  };
}
