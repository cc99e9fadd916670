import * as grpc from '@grpc/grpc-js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Logger } from 'pino';
import { ProtocolError } from '../call/results.js';
import { identityCodec } from '../discovery/wire.js';
import type { ShardConnection } from '../discovery/shard-connection.js';
import type { SurfaceTable } from './surface-table.js';

interface Watch {
  uri: string;
  /** The connection the stream runs on; a lost watch follows its URI to the connection that owns it now. */
  shard: ShardConnection;
  path: string;
  request: Uint8Array;
  servers: Set<Server>;
  call?: grpc.ClientReadableStream<Uint8Array>;
  /** The stream broke: the resource may have changed unseen, so the next stream starts by saying so. */
  lost: boolean;
}

/**
 * resources/subscribe, gateway-wide: one watch stream per URI however many
 * sessions subscribe, each message a notifications/resources/updated to every
 * one of them. A stream lost with its shard is opened again when the shard
 * serves again, and the subscribers are told the resource may have changed.
 */
export class Subscriptions {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly surface: SurfaceTable,
    shards: readonly ShardConnection[],
    private readonly logger: Logger,
  ) {
    for (const shard of shards) this.track(shard);
  }

  /** Follows a shard added to the list after start. */
  track(shard: ShardConnection): void {
    shard.on('change', () => this.resume(shard));
  }

  subscribe(uri: string, server: Server): void {
    let watch = this.watches.get(uri);
    if (!watch) {
      const placed = this.placement(uri);
      if (!placed) throw new ProtocolError(ErrorCode.InvalidParams, `${uri} does not announce changes (its contract names no watch_with RPC); read it again to see changes.`);
      watch = { uri, ...placed, servers: new Set(), lost: false };
      this.watches.set(uri, watch);
      this.open(watch);
    }
    watch.servers.add(server);
  }

  unsubscribe(uri: string, server: Server): void {
    const watch = this.watches.get(uri);
    if (!watch) return;
    watch.servers.delete(server);
    if (watch.servers.size === 0) this.stop(watch);
  }

  /** A session ended: its subscriptions with it. */
  drop(server: Server): void {
    for (const watch of [...this.watches.values()]) this.unsubscribe(watch.uri, server);
  }

  /** How many streams are open (for tests and the status). */
  openStreams(): number {
    return [...this.watches.values()].filter((w) => w.call).length;
  }

  close(): void {
    for (const watch of [...this.watches.values()]) this.stop(watch);
  }

  private stop(watch: Watch): void {
    this.watches.delete(watch.uri);
    const call = watch.call;
    watch.call = undefined;
    call?.cancel();
  }

  private notify(watch: Watch): void {
    for (const server of watch.servers) server.sendResourceUpdated({ uri: watch.uri }).catch(() => undefined);
  }

  private open(watch: Watch): void {
    if (!watch.shard.isServing()) {
      watch.lost = true;
      return;
    }
    const metadata = new grpc.Metadata();
    metadata.set('x-homelab-mcp-subject', 'gateway');
    let call: grpc.ClientReadableStream<Uint8Array>;
    try {
      call = watch.shard.client.makeServerStreamRequest(watch.path, identityCodec.serialize, identityCodec.deserialize, watch.request, metadata, {});
    } catch (err) {
      // A connection closed by a reload that has not said so yet: the watch waits for the URI's owner to serve.
      watch.lost = true;
      this.logger.info({ uri: watch.uri, shard: watch.shard.target.name, err: (err as Error).message }, 'resource watch not opened; resumed when the shard serves again');
      return;
    }
    watch.call = call;
    if (watch.lost) {
      watch.lost = false;
      this.notify(watch);
    }
    call.on('data', () => this.notify(watch));
    const ended = (err?: grpc.ServiceError) => {
      if (watch.call !== call) return;
      watch.call = undefined;
      watch.lost = true;
      this.logger.info({ uri: watch.uri, shard: watch.shard.target.name, err: err?.message }, 'resource watch ended; resumed when the shard serves again');
      // Opened again at once where the URI's owner serves: the shard restarted its watcher, or a reload replaced its connection
      // with one that served before this stream ended (and will say nothing more).
      if (this.watches.get(watch.uri) === watch) setTimeout(() => this.retry(watch), 250).unref();
    };
    call.on('error', ended);
    call.on('end', () => ended());
  }

  /** Reopens the lost watches this shard serves: its own, and those whose URI it owns now (its connection replaced one that was removed). */
  private resume(shard: ShardConnection): void {
    if (!shard.isServing()) return;
    for (const watch of this.watches.values()) {
      if (watch.call) continue;
      if (watch.shard !== shard) {
        const placed = this.currentPlacement(watch.uri);
        if (placed?.shard !== shard) continue;
        Object.assign(watch, placed);
      }
      this.open(watch);
    }
  }

  /** Reopens a lost watch on whichever connection owns its URI now, if that one serves. */
  private retry(watch: Watch): void {
    if (this.watches.get(watch.uri) !== watch || watch.call) return;
    const placed = this.currentPlacement(watch.uri);
    if (!placed?.shard.isServing()) return;
    Object.assign(watch, placed);
    this.open(watch);
  }

  /** Where a watch of this URI runs: its owner's connection and watch RPC; undefined when its contract names none. Throws for an unknown URI. */
  private placement(uri: string): Pick<Watch, 'shard' | 'path' | 'request'> | undefined {
    const { owner, values } = this.surface.resolve(uri);
    const rpc = owner.spec.watch;
    return rpc ? { shard: owner.shard, path: rpc.path, request: this.surface.requestFor(owner.spec, values, rpc) } : undefined;
  }

  /** The placement of a lost watch's URI now; undefined while no serving shard declares it. */
  private currentPlacement(uri: string): ReturnType<Subscriptions['placement']> {
    try {
      return this.placement(uri);
    } catch {
      return undefined;
    }
  }
}
