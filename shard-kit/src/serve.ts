import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server as NetServer } from 'node:net';
import type * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { drain } from '@homelab-mcp/component-kit/drain.js';
import { ShardStatusServiceService, type GetShardStatusResponse } from '@homelab-mcp/proto/ts/homelab/mcp/v1/shard.js';
import { DescriptorSet } from './descriptor-set.js';
import { ShardError, toGrpcStatus } from './errors.js';
import { HealthReporter, type HealthProbe } from './health.js';
import { addReflectionToServer } from './reflection.js';
import { toTimestamp } from '@homelab-mcp/component-kit/timestamps.js';
import { isLoopbackHost, joinHostPort } from '@homelab-mcp/pki/address.js';
import { createMtlsServer, pinPeerCertificate, WatchedCertificateFiles } from '@homelab-mcp/pki/credentials.js';
import { instanceIdentity } from '@homelab-mcp/pki/identity.js';
import { callerIdentity, createIdentityInterceptor, type ShardTlsFiles } from './caller-policy.js';

/** What a handler gets besides its request. */
export interface ShardContext {
  /** Aborts when the client cancels or the deadline passes: pass it to every fetch and stream. */
  signal: AbortSignal;
  deadline?: Date;
  logger: Logger;
  metadata: grpc.Metadata;
  /** The caller's verified identity (mTLS), e.g. "gateway". */
  peer?: string;
}

type ReqOf<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type ResOf<M> = M extends { responseSerialize: (v: infer R) => Buffer } ? R : never;

/**
 * What an interactive call's handler has besides the first request (its
 * arguments): the next request message the gateway sends, which carries the
 * client's answer to the question the handler yielded last (undefined when
 * the gateway closed its side).
 */
export interface InteractiveContext<Req> extends ShardContext {
  next(): Promise<Req | undefined>;
}

/** Handlers typed from a ts-proto grpc-js service definition: unary -> Promise, server-streaming -> AsyncIterable, bidirectional -> AsyncIterable with next(). */
export type ShardHandlers<S> = {
  [K in keyof S]: S[K] extends { requestStream: true; responseStream: true }
    ? (req: ReqOf<S[K]>, ctx: InteractiveContext<ReqOf<S[K]>>) => AsyncIterable<ResOf<S[K]>>
    : S[K] extends { responseStream: true }
    ? (req: ReqOf<S[K]>, ctx: ShardContext) => AsyncIterable<ResOf<S[K]>>
    : (req: ReqOf<S[K]>, ctx: ShardContext) => Promise<ResOf<S[K]>>;
};

export interface ListenConfig {
  host: string;
  port: number;
  /** mTLS files and the identities allowed to call, or 'plaintext' (loopback only). */
  tls: ShardTlsFiles | 'plaintext';
  /**
   * The node this instance serves when several shards of one kind run (one
   * Watchman per Docker host); its identity is then `shard-<name>/<instance>`.
   * Unset: the default instance, `shard-<name>`.
   */
  instance?: string;
}

export interface ServeOptions<S extends grpc.ServiceDefinition> {
  /** Shard name; its identity is `shard-<name>`. */
  name: string;
  /** Fully-qualified service name, e.g. homelab.traefik.v1.NavigatorService. */
  serviceName: string;
  service: S;
  handlers: ShardHandlers<S>;
  listen: ListenConfig;
  health?: HealthProbe;
  logger: Logger;
  /** What the shard talks to, shown by the gateway, e.g. "Traefik API at http://traefik:8080/api". */
  upstream?: string;
  version?: string;
  /** The buf-built FileDescriptorSet; defaults to proto/gen/descriptor.binpb. */
  descriptorSet?: Uint8Array;
  /** Default drain time on close(). */
  shutdownGraceMs?: number;
}

export interface RunningShard {
  port: number;
  /** host:port the server listens on. */
  address: string;
  health: HealthReporter;
  /** Stops accepting calls, lets in-flight calls finish for up to graceMs, then cancels the rest. */
  close(graceMs?: number): Promise<void>;
}

const require = createRequire(import.meta.url);

export function loadDescriptorSet(): Uint8Array {
  return readFileSync(require.resolve('@homelab-mcp/proto/descriptor.binpb'));
}

function contextFor(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, logger: Logger, method: string): { ctx: ShardContext; done: () => void } {
  const controller = new AbortController();
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : typeof deadline === 'number' ? deadline : Infinity;
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadlineMs)) {
    timer = setTimeout(() => controller.abort(new ShardError('DEADLINE_EXCEEDED', 'the call deadline passed')), Math.max(0, deadlineMs - Date.now()));
  }
  const onCancel = () => controller.abort(new ShardError('CANCELLED', 'the client cancelled the call'));
  call.once('cancelled', onCancel);
  const peer = callerIdentity(call);
  // Most calls never log: the call's child logger (pino serializes its bindings) is made on first use.
  let callLogger: Logger | undefined;
  const ctx: ShardContext = {
    signal: controller.signal,
    ...(Number.isFinite(deadlineMs) ? { deadline: new Date(deadlineMs) } : {}),
    get logger() {
      return (callLogger ??= logger.child({ method, ...(peer ? { peer } : {}) }));
    },
    metadata: call.metadata,
    ...(peer ? { peer } : {}),
  };
  return {
    ctx,
    done: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

function logFailure(ctx: ShardContext, err: unknown): void {
  if (err instanceof ShardError) ctx.logger.info({ code: err.code, reason: err.reason, msg: err.message }, 'call failed');
  else ctx.logger.error({ err }, 'handler failed unexpectedly');
}

/** The request messages of a bidirectional call, one at a time; undefined once the caller's side has ended. */
function requestQueue(call: grpc.ServerDuplexStream<unknown, unknown>): { next(): Promise<unknown> } {
  const buffered: unknown[] = [];
  const waiting: ((v: unknown) => void)[] = [];
  let ended = false;
  call.on('data', (msg: unknown) => {
    const w = waiting.shift();
    if (w) w(msg);
    else buffered.push(msg);
  });
  const finish = () => {
    ended = true;
    for (const w of waiting.splice(0)) w(undefined);
  };
  call.on('end', finish);
  call.on('cancelled', finish);
  call.on('error', finish);
  return {
    next: () => (buffered.length ? Promise.resolve(buffered.shift()) : ended ? Promise.resolve(undefined) : new Promise((resolve) => waiting.push(resolve))),
  };
}

/** Writes what a streaming handler yields, with back-pressure, and ends the call with its error or its end. */
function streamOut(call: grpc.ServerWritableStream<unknown, unknown>, logger: Logger, path: string, inflight: Set<AbortController | object>, produce: (ctx: ShardContext) => AsyncIterable<unknown>): void {
  const { ctx, done } = contextFor(call, logger, path);
  const token = {};
  inflight.add(token);
  void (async () => {
    try {
      for await (const msg of produce(ctx)) {
        if (ctx.signal.aborted) break;
        if (!call.write(msg)) await drained(call, ctx.signal);
      }
      if (!ctx.signal.aborted) call.end();
    } catch (err) {
      if (ctx.signal.aborted && call.cancelled) return;
      logFailure(ctx, err);
      call.emit('error', toGrpcStatus(err));
    } finally {
      done();
      inflight.delete(token);
    }
  })();
}

/** Adapts typed async handlers to grpc-js handlers (unary, server-streaming and bidirectional). */
function adapt(definition: grpc.ServiceDefinition, handlers: Record<string, unknown>, logger: Logger, inflight: Set<AbortController | object>): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [key, def] of Object.entries(definition)) {
    const handler = handlers[key];
    if (typeof handler !== 'function') throw new Error(`no handler for ${def.path}`);
    if (def.requestStream && !def.responseStream) throw new Error(`${def.path}: client streaming is not supported`);
    if (def.requestStream) {
      impl[key] = ((duplex: grpc.ServerDuplexStream<unknown, unknown>) => {
        // Its writing half is a server stream's: the deadline, cancellation and back-pressure work alike.
        const call = duplex as unknown as grpc.ServerWritableStream<unknown, unknown>;
        const requests = requestQueue(duplex);
        streamOut(call, logger, def.path, inflight, async function* (ctx) {
          const first = await requests.next();
          if (first === undefined) throw new ShardError('INVALID_ARGUMENT', 'the call ended before its arguments were sent');
          yield* (handler as (r: unknown, c: InteractiveContext<unknown>) => AsyncIterable<unknown>)(first, { ...ctx, next: requests.next });
        });
      }) as grpc.handleBidiStreamingCall<unknown, unknown>;
    } else if (!def.responseStream) {
      impl[key] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const { ctx, done } = contextFor(call, logger, def.path);
        const token = {};
        inflight.add(token);
        (handler as (r: unknown, c: ShardContext) => Promise<unknown>)(call.request, ctx).then(
          (res) => callback(null, res),
          (err: unknown) => {
            logFailure(ctx, err);
            callback(toGrpcStatus(err));
          },
        ).finally(() => {
          done();
          inflight.delete(token);
        });
      }) as grpc.handleUnaryCall<unknown, unknown>;
    } else {
      impl[key] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        streamOut(call, logger, def.path, inflight, (ctx) => (handler as (r: unknown, c: ShardContext) => AsyncIterable<unknown>)(call.request, ctx));
      }) as grpc.handleServerStreamingCall<unknown, unknown>;
    }
  }
  return impl;
}

const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  // The gateway pings often (every 100 ms by default) to notice a cut link within a second; accept that.
  'grpc.http2.min_ping_interval_without_data_ms': 50,
  // No channelz: nothing reads it, and it books every call.
  'grpc.enable_channelz': 0,
};

/** ShardStatusService: the shard's name, service, version and health, for homelab_status. */
function addShardStatusToServer(server: grpc.Server, opts: Pick<ServeOptions<grpc.ServiceDefinition>, 'name' | 'serviceName' | 'version' | 'upstream'> & { instance: string }, health: HealthReporter): void {
  server.addService(ShardStatusServiceService, {
    getShardStatus: (_call: grpc.ServerUnaryCall<unknown, GetShardStatusResponse>, callback: grpc.sendUnaryData<GetShardStatusResponse>) => {
      const st = health.status();
      callback(null, {
        name: opts.name,
        instance: opts.instance,
        service: opts.serviceName,
        version: opts.version ?? '0.1.0',
        serving: st.serving,
        reason: st.reason,
        since: toTimestamp(st.since),
        ...(st.checkedAt ? { checkedAt: toTimestamp(st.checkedAt) } : {}),
        upstream: opts.upstream ?? '',
      });
    },
  });
}

/**
 * Starts a shard: its service with typed handlers, server reflection from the
 * buf-built descriptor set, the gRPC health service driven by the upstream
 * probe, ShardStatusService, and mTLS that checks the caller's identity.
 */
export async function serve<S extends grpc.ServiceDefinition>(opts: ServeOptions<S>): Promise<RunningShard> {
  const logger = opts.logger.child({ shard: opts.name });
  const { listen } = opts;
  if (listen.tls === 'plaintext' && !isLoopbackHost(listen.host)) {
    throw new Error(`plaintext gRPC is allowed only on loopback, not on ${listen.host}; configure SHARD_TLS_CA/CERT/KEY`);
  }
  const instance = listen.instance ?? '';
  const interceptors = listen.tls === 'plaintext' ? [] : [createIdentityInterceptor({ peers: new Set(listen.tls.allowedPeers), healthOnly: new Set([instanceIdentity(`shard-${opts.name}`, instance)]) })];
  const server = new grpc.Server({ interceptors, ...SERVER_OPTIONS } as grpc.ServerOptions);

  const descriptors = new DescriptorSet(opts.descriptorSet ?? loadDescriptorSet());
  if (!descriptors.registry.getService(opts.serviceName)) throw new Error(`${opts.serviceName} is not in the descriptor set: run npm run generate`);
  const inflight = new Set<object>();
  server.addService(opts.service, adapt(opts.service, opts.handlers as Record<string, unknown>, logger, inflight));

  const health = new HealthReporter(opts.serviceName, opts.health, logger);
  health.addToServer(server);
  addShardStatusToServer(server, { ...opts, instance }, health);
  addReflectionToServer(server, descriptors, [opts.serviceName, 'homelab.mcp.v1.ShardStatusService']);

  const certificates = listen.tls === 'plaintext' ? undefined : new WatchedCertificateFiles(listen.tls);
  let closing: Promise<void> | undefined;
  let tlsServer: tls.Server | undefined;
  let port: number;
  if (certificates) {
    // TLS is terminated here, not by grpc-js, so each connection's peer certificate is read once, not once per call.
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    tlsServer = await createMtlsServer(certificates, (err) => logger.error({ err }, 'certificate files unusable'));
    tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
      if (closing) return socket.destroy();
      // Errors after the handshake belong to the HTTP/2 session; until it has the socket, an error must not go unhandled.
      socket.on('error', (err) => logger.debug({ err }, 'TLS connection failed'));
      pinPeerCertificate(socket);
      injector.injectConnection(socket);
    });
    port = await listenOn(tlsServer, listen.host, listen.port);
  } else {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(joinHostPort(listen.host, listen.port), grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
  }
  await health.start();
  const address = `${listen.host}:${port}`;
  logger.info({ address, ...(instance ? { instance } : {}), tls: listen.tls !== 'plaintext', serving: health.status().serving }, 'shard listening');

  return {
    port,
    address,
    health,
    close: (graceMs = opts.shutdownGraceMs ?? 10_000) =>
      (closing ??= (async () => {
        health.stop();
        tlsServer?.close();
        const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        await drain(graceful, () => {
          logger.warn({ inflight: inflight.size }, 'grace period over: cancelling remaining calls');
          server.forceShutdown();
        }, graceMs);
        certificates?.close();
      })()),
  };
}

/** Resolves when the stream wants more or the call ends; either way both listeners go, so a long stream piles none up. */
function drained(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Listens on host:port (0: a free port) and resolves with the port, or rejects with what went wrong (the address in use). */
function listenOn(netServer: NetServer, host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot listen on ${joinHostPort(host, port)}: ${err.message}`));
    netServer.once('error', onError);
    netServer.listen({ host, port }, () => {
      netServer.off('error', onError);
      resolve((netServer.address() as { port: number }).port);
    });
  });
}
