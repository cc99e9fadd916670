import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { serviceOwnership, type ShardTarget } from '../config.js';

class OwnershipRefused extends Error {}
import type { FileRegistry } from '@bufbuild/protobuf';
import { identityHostName } from '@homelab-mcp/pki/identity.js';
import { buildSurfaceSpec, buildToolSpecs, createOptionReaders, type SurfaceSpec, type ToolSpec } from '../schema/index.js';
import { checkReadable, createWatchedChannelCredentials, WatchedCertificateFiles, type TlsFiles } from '@homelab-mcp/pki/credentials.js';
import { watchHealth, type HealthWatch, type ServingStatus } from './health-watch.js';
import { reflectShard } from './reflection-client.js';
import { ShardStatusServiceService } from '@homelab-mcp/proto/ts/homelab/mcp/v1/shard.js';

/**
 * connecting: never reached yet; serving: tools listed; not_serving: the shard
 * answers but reports its upstream down; unreachable: no connection or the
 * stream broke; failed: the shard answers but its contract cannot be used.
 */
export type ShardState = 'connecting' | 'serving' | 'not_serving' | 'unreachable' | 'failed';

export interface ShardStatus {
  /** `dozzle`, or `dozzle/nas` for the instance of node nas. */
  name: string;
  /** The shard's kind, e.g. `dozzle`. */
  kind: string;
  /** The node this instance serves ('' for the default instance). */
  instance: string;
  address: string;
  identity: string;
  state: ShardState;
  since: Date;
  toolCount: number;
  services: string[];
  lastError?: string;
  certificateExpiresAt?: Date;
  descriptorHash?: string;
}

export interface ShardConnectionOptions {
  tls?: TlsFiles;
  reconnect: { initialMs: number; maxMs: number };
  keepalive: { timeMs: number; timeoutMs: number };
  logger: Logger;
}

type ShardChannel = ReturnType<grpc.Client['getChannel']>;

const REFLECTION_TIMEOUT_MS = 10_000;
const OWNERSHIP_RECHECK_MS = 30_000;

/**
 * One shard: one long-lived HTTP/2 channel, reflection on every (re)connect,
 * and a health Watch that decides whether its tools are listed.
 * Emits `change` whenever state or tools change.
 */
export class ShardConnection extends EventEmitter<{ change: [] }> {
  readonly client: grpc.Client;
  private state: ShardState = 'connecting';
  private since = new Date();
  private lastError?: string;
  private certificateExpiresAt?: Date;
  private hash?: string;
  private services: string[] = [];
  private specs: ToolSpec[] = [];
  private surfaceSpec: SurfaceSpec = { resources: [], prompts: [] };
  private closed = false;
  private watch?: HealthWatch;
  private wake?: () => void;
  private loop?: Promise<void>;
  private readonly logger: Logger;
  private readonly certificates?: WatchedCertificateFiles;

  private placed: ShardTarget;

  constructor(target: ShardTarget, private readonly options: ShardConnectionOptions) {
    super();
    this.placed = target;
    this.logger = options.logger.child({ shard: target.name });
    let credentials: grpc.ChannelCredentials;
    if (target.plaintext) credentials = grpc.credentials.createInsecure();
    else if (options.tls) {
      checkReadable(options.tls);
      this.certificates = new WatchedCertificateFiles(options.tls);
      credentials = createWatchedChannelCredentials(this.certificates, target.identity, (peer) => {
        this.certificateExpiresAt = peer.validTo;
      });
    } else throw new Error(`shard ${target.name}: mTLS files are missing`);
    this.client = new grpc.Client(target.address, credentials, {
      // Notice a silently vanished peer (host down, cable pulled) without waiting for TCP: an
      // HTTP/2 ping every keepalive.timeMs, unanswered for keepalive.timeoutMs, drops the link
      // (defaults 100 + 500 ms: the shard's tools are hidden within a second).
      'grpc.keepalive_time_ms': options.keepalive.timeMs,
      'grpc.keepalive_timeout_ms': options.keepalive.timeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': options.reconnect.initialMs,
      'grpc.max_reconnect_backoff_ms': options.reconnect.maxMs,
      // SNI is the shard's identity (a DNS SAN of its certificate), never an IP address.
      ...(target.plaintext ? {} : { 'grpc.ssl_target_name_override': identityHostName(target.identity) }),
      // The gateway retries nothing behind the caller's back (a write must run once, or visibly
      // not at all) and exposes no channelz; both cost time on every call (measured: about 1 ms
      // of a loopback call's p50).
      'grpc.enable_retries': 0,
      'grpc.enable_channelz': 0,
    });
  }
  /** What this connection was made for, and where it stands among its kind. */
  get target(): ShardTarget {
    return this.placed;
  }

  /**
   * The same shard placed anew by a re-read configuration (another rank among
   * its kind, other kinds' packages reserved): its next discovery checks it so.
   * A refused second instance of a single-instance kind that is now the first
   * serves on its next attempt, without a restart.
   */
  retarget(target: ShardTarget): void {
    this.placed = target;
  }


  start(): void {
    this.loop ??= this.run();
  }

  /** Tools of the shard's last known contract, listed or not. */
  tools(): readonly ToolSpec[] {
    return this.specs;
  }

  /** Resources and prompts of the shard's last known contract, listed or not. */
  surface(): SurfaceSpec {
    return this.surfaceSpec;
  }

  /** Whether the shard is serving and offers this gRPC service (composite tools call it through `client`). */
  offers(service: string): boolean {
    return this.state === 'serving' && this.services.includes(service);
  }

  isServing(): boolean {
    return this.state === 'serving';
  }

  status(): ShardStatus {
    return {
      name: this.target.name,
      kind: this.target.kind,
      instance: this.target.instance,
      address: this.target.address,
      identity: this.target.identity,
      state: this.state,
      since: this.since,
      toolCount: this.specs.length,
      services: [...this.services],
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.certificateExpiresAt ? { certificateExpiresAt: this.certificateExpiresAt } : {}),
      ...(this.hash ? { descriptorHash: this.hash } : {}),
    };
  }

  /** Skip the current backoff wait (e.g. a call found the shard reachable again). */
  reconnectNow(): void {
    this.wake?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.cancel();
    this.wake?.();
    await this.loop;
    this.client.close();
    this.certificates?.close();
  }

  private setState(state: ShardState, lastError?: string): void {
    if (lastError !== undefined) this.lastError = lastError;
    if (state === this.state) return;
    this.logger.info({ from: this.state, to: state, ...(lastError ? { error: lastError } : {}) }, 'shard state changed');
    this.state = state;
    this.since = new Date();
    this.emit('change');
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      let refused = false;
      try {
        const reflected = await reflectShard(this.client, new Date(Date.now() + REFLECTION_TIMEOUT_MS));
        if (this.closed) break;
        attempt = 0;
        // An identity registers only the services it owns: a Dozzle shard cannot offer Navigator tools.
        const foreign = reflected.services.map((service) => serviceOwnership(this.target, service)).filter((r): r is string => r !== undefined);
        if (this.target.rank > 0) foreign.push(...singleInstanceRefusals(this.target, reflected.registry, reflected.services));
        if (foreign.length > 0) {
          this.hash = undefined;
          this.services = [];
          this.specs = [];
          this.surfaceSpec = { resources: [], prompts: [] };
          this.setState('failed', `refused: ${foreign.join('; ')}`);
          this.logger.warn({ refused: foreign }, 'shard offers services its identity does not own');
          this.emit('change');
          throw new OwnershipRefused();
        }
        if (reflected.hash !== this.hash) {
          const specs = reflected.services.flatMap((service) => buildToolSpecs(reflected.registry, service));
          const surfaces = reflected.services.map((service) => buildSurfaceSpec(reflected.registry, service));
          this.surfaceSpec = { resources: surfaces.flatMap((x) => x.resources), prompts: surfaces.flatMap((x) => x.prompts) };
          const changedContract = this.hash !== undefined;
          this.hash = reflected.hash;
          this.services = reflected.services;
          this.specs = specs;
          this.logger.info({ services: reflected.services, tools: specs.length, reflection: reflected.protocol, changedContract }, 'shard contract loaded');
          this.emit('change');
        }
        await this.watchUntilBroken(reflected.services[0]!);
      } catch (err) {
        if (this.closed) break;
        if (err instanceof OwnershipRefused) {
          refused = true;
        } else {
          const e = err as grpc.ServiceError;
          const unreachable = e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED || e.code === grpc.status.CANCELLED;
          this.setState(unreachable ? 'unreachable' : 'failed', describeDiscoveryError(e));
        }
      }
      if (this.closed) break;
      // A refused contract only changes when someone redeploys the shard: look again now and then, not every second.
      const delay = refused ? Math.max(this.options.reconnect.maxMs, OWNERSHIP_RECHECK_MS) : Math.min(this.options.reconnect.maxMs, this.options.reconnect.initialMs * 2 ** attempt);
      attempt = Math.min(attempt + 1, 20);
      const channel = this.client.getChannel();
      if (this.state === 'unreachable' && channel.getConnectivityState(false) !== grpc.connectivityState.READY) {
        // The channel reconnects on its own backoff: look again as soon as it has a connection, so a
        // returning shard is listed after one backoff step, not after that and a second wait of ours.
        await this.pause(delay, channel);
      } else {
        await this.pause(delay * (0.5 + Math.random() * 0.5));
      }
      this.wake = undefined;
    }
  }

  /** Waits `ms`, or less when `channel` gets a connection (READY) first, or until woken or closed. */
  private pause(ms: number, channel?: ShardChannel): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
      const follow = (state: grpc.connectivityState): void => {
        if (done) return;
        if (state === grpc.connectivityState.READY || state === grpc.connectivityState.SHUTDOWN) return finish();
        // Asking for the state with `true` makes an idle channel connect.
        channel?.watchConnectivityState(state, Date.now() + ms, () => follow(channel.getConnectivityState(true)));
      };
      if (channel) follow(channel.getConnectivityState(true));
    });
  }

  /** Why the shard is not serving, from homelab.mcp.v1.ShardStatusService (empty when it has none). */
  private fetchReason(): Promise<string> {
    const { path, requestSerialize, responseDeserialize } = ShardStatusServiceService.getShardStatus;
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(path, requestSerialize, responseDeserialize, {}, { deadline: Date.now() + 3000 }, (err, res) => resolve(err || !res ? '' : res.reason));
    });
  }

  private async watchUntilBroken(service: string): Promise<void> {
    const onStatus = (status: ServingStatus) => {
      if (status === 'SERVING') this.setState('serving');
      else if (status === 'SERVICE_UNKNOWN') this.setState('failed', `the shard's health service does not know ${service}`);
      else {
        this.setState('not_serving', 'the shard reports NOT_SERVING: its upstream is unreachable or unhealthy');
        // The health protocol carries no reason; the shard's status service does.
        void this.fetchReason().then((reason) => {
          if (reason && this.state === 'not_serving') this.setState('not_serving', `the shard reports NOT_SERVING: ${reason}`);
        });
      }
    };
    this.watch = watchHealth(this.client, service, onStatus);
    try {
      await this.watch.done;
    } finally {
      this.watch = undefined;
    }
  }
}

/**
 * A service that may run only once (its contract says single_instance) offered
 * by any instance but the first of its kind: the first one keeps serving.
 */
function singleInstanceRefusals(target: ShardTarget, registry: FileRegistry, services: string[]): string[] {
  const options = createOptionReaders(registry);
  return services
    .filter((name) => {
      const service = registry.getService(name);
      return service !== undefined && options.singleInstance(service);
    })
    .map((name) => `${name} is single-instance: only one ${target.kind} shard may serve it, and another instance of ${target.kind} comes first; remove ${target.name} from the gateway's configuration or stop it`);
}

function describeDiscoveryError(err: grpc.ServiceError | Error): string {
  const e = err as grpc.ServiceError;
  const text = e.details || e.message || String(err);
  if (e.code === grpc.status.UNAVAILABLE) return `unreachable: ${text}`;
  if (e.code === grpc.status.UNIMPLEMENTED) return `the shard does not implement reflection or health: ${text}`;
  return text;
}
