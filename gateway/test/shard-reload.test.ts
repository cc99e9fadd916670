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

  it('keeps an instance whose rank changed, placed anew, so the one now first is checked as the first', async () => {
    const shards = config('main=127.0.0.1:1,nas=127.0.0.1:2').shards.map(connect);
    const nas = shards[1];
    const events: [string, string][] = [];
    const hooks = { create: connect, added: (s: ShardConnection) => events.push(['added', s.target.name]), removed: (s: ShardConnection) => events.push(['removed', s.target.name]) };
    await reconcileShards(shards, config('nas=127.0.0.1:2').shards, hooks);
    expect(events).toEqual([['removed', 'dozzle/main']]);
    expect(shards).toEqual([nas]);
    expect(nas!.target.rank).toBe(0);
    // Another address is another connection.
    await reconcileShards(shards, config('nas=127.0.0.1:3').shards, hooks);
    expect(shards[0]).not.toBe(nas);
    expect(events.slice(1)).toEqual([['removed', 'dozzle/nas'], ['added', 'dozzle/nas']]);
  });
});
