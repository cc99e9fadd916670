import { afterAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { parseGatewayConfig } from '../src/config.js';
import { reconcileShards } from '../src/discovery/reload.js';
import { ShardConnection } from '../src/discovery/shard-connection.js';

const logger = pino({ level: 'silent' });

// What a re-read shard list does to the live connections: the instances that
// are kept are exactly those whose target (rank included) did not change.
describe('a re-read shard list', () => {
  const all: ShardConnection[] = [];
  const config = (instances: string) => parseGatewayConfig({ SHARD_DOZZLE_INSTANCES: instances, GATEWAY_PLAINTEXT_SHARDS: 'dozzle', GATEWAY_AUTH: 'none' });
  const connect = (t: ShardConnection['target']) => {
    const c = config('x=127.0.0.1:1');
    const shard = new ShardConnection(t, { reconnect: c.reconnect, keepalive: c.keepalive, logger });
    all.push(shard);
    return shard;
  };
  afterAll(async () => {
    await Promise.all(all.map((s) => s.close()));
  });

  it('takes a whole kind as plaintext by its name when it has only node instances', () => {
    expect(config('main=127.0.0.1:1,nas=127.0.0.1:2').shards.map((s) => [s.name, s.plaintext])).toEqual([['dozzle/main', true], ['dozzle/nas', true]]);
  });

  it('reconnects an instance whose rank changed, so the one now first is checked as the first', async () => {
    const shards = config('main=127.0.0.1:1,nas=127.0.0.1:2').shards.map(connect);
    const events: [string, string, number][] = [];
    await reconcileShards(shards, config('nas=127.0.0.1:2').shards, {
      create: connect,
      added: (s) => events.push(['added', s.target.name, s.target.rank]),
      removed: (s) => events.push(['removed', s.target.name, s.target.rank]),
    });
    expect(shards.map((s) => [s.target.name, s.target.rank])).toEqual([['dozzle/nas', 0]]);
    expect(events).toEqual([['removed', 'dozzle/main', 0], ['removed', 'dozzle/nas', 1], ['added', 'dozzle/nas', 0]]);
    // Unchanged targets keep their connection.
    const kept = shards[0];
    await reconcileShards(shards, config('nas=127.0.0.1:2').shards, { create: connect, added: () => undefined, removed: () => undefined });
    expect(shards[0]).toBe(kept);
  });
});
