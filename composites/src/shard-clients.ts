import * as grpc from '@grpc/grpc-js';

/** How a host (the gateway) lends its shard channels: one per shard, shared, never closed here. */
export interface ShardChannels {
  channelFor(service: string): { address: string; channel: ReturnType<grpc.Client['getChannel']> } | undefined;
  /**
   * Every instance of the service, one per node where several run (one
   * Watchman per Docker host; `node` is '' for a shard without instances),
   * those that are down with why (`down`).
   */
  channelsFor(service: string): { node: string; address: string; channel: ReturnType<grpc.Client['getChannel']>; down?: string }[];
}

type ClientClass<C> = new (address: string, creds: grpc.ChannelCredentials, options: Partial<grpc.ClientOptions>) => C;

/** A typed client on the host's channel for a gRPC service, or undefined while no shard serves it. */
export function clientFor<C extends grpc.Client>(channels: ShardChannels, service: string, make: ClientClass<C>): C | undefined {
  const lent = channels.channelFor(service);
  if (!lent) return undefined;
  return new make(lent.address, grpc.credentials.createInsecure(), { channelOverride: lent.channel });
}

/** A typed client per instance of a service, with the node each one reads (and why it is down, if it is). */
export function clientsFor<C extends grpc.Client>(channels: ShardChannels, service: string, make: ClientClass<C>): { node: string; client: C; down?: string }[] {
  return channels.channelsFor(service).map((lent) => ({ node: lent.node, client: new make(lent.address, grpc.credentials.createInsecure(), { channelOverride: lent.channel }), ...(lent.down ? { down: lent.down } : {}) }));
}

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall;

/**
 * One unary call bounded by a deadline and cancelled with the tool call. The
 * abort listener goes when the call ends: a composite makes many calls under
 * one signal, and listeners left behind pile up (MaxListenersExceededWarning).
 */
export function unary<Req, Res>(client: grpc.Client, fn: Unary<Req, Res>, req: Req, deadlineMs: number, signal: AbortSignal): Promise<Res> {
  return new Promise((resolve, reject) => {
    const cancel = () => call.cancel();
    const call = fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
      signal.removeEventListener('abort', cancel);
      if (err) reject(err);
      else resolve(res);
    });
    signal.addEventListener('abort', cancel, { once: true });
  });
}

/** Every message of a server stream, cancelled with the tool call; the listener goes when the stream ends. */
export function collect<T>(stream: grpc.ClientReadableStream<T>, signal: AbortSignal): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    const cancel = () => stream.cancel();
    const done = () => signal.removeEventListener('abort', cancel);
    stream.on('data', (d: T) => out.push(d));
    stream.on('end', () => (done(), resolve(out)));
    stream.on('error', (e) => (done(), reject(e)));
    signal.addEventListener('abort', cancel, { once: true });
  });
}

/** The words of a failed call a person can act on. */
export const reasonOf = (err: unknown): string => (err as grpc.ServiceError)?.details || (err as Error)?.message || String(err);
