import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createFileRegistry, fromBinary, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import {
  ServerReflectionService,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@homelab-mcp/proto/ts/grpc/reflection/v1/reflection.js';

const { requestSerialize, responseDeserialize } = ServerReflectionService.serverReflectionInfo;

/** v1alpha is v1 under its older package name: the same messages, another path. */
const REFLECTION_PATHS = [
  { protocol: 'v1', path: ServerReflectionService.serverReflectionInfo.path },
  { protocol: 'v1alpha', path: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo' },
] as const;

/** What reflection says about one shard. */
export interface ReflectedShard {
  /** Application services (gRPC infrastructure services left out). */
  services: string[];
  registry: FileRegistry;
  /** Hash of the descriptor set, to notice a shard that changed its contract. */
  hash: string;
  /** Which reflection protocol version answered. */
  protocol: 'v1' | 'v1alpha';
}

export class ReflectionError extends Error {
  constructor(message: string, readonly code?: grpc.status) {
    super(message);
    this.name = 'ReflectionError';
  }
}

/** The answer's error as a ReflectionError, or undefined when it has none. */
function errorOf(res: ServerReflectionResponse, what: string): ReflectionError | undefined {
  const e = res.errorResponse;
  return e ? new ReflectionError(`${what}: ${e.errorMessage}`, e.errorCode) : undefined;
}

// Shards normally send the well-known types with their own files; these are
// used only when one does not.
const BUNDLED = new Map<string, DescFile>(
  [
    file_google_protobuf_any,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_wrappers,
  ].map((f) => [f.proto.name, f] as const),
);

/** One reflection conversation over a bidi stream: request, then wait for its answer. */
class ReflectionStream {
  private readonly queue: ServerReflectionResponse[] = [];
  private waiter?: { resolve: (r: ServerReflectionResponse) => void; reject: (e: Error) => void };
  private failure?: Error;

  constructor(private readonly call: grpc.ClientDuplexStream<ServerReflectionRequest, ServerReflectionResponse>) {
    call.on('data', (res: ServerReflectionResponse) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(res);
      } else this.queue.push(res);
    });
    call.on('error', (err: grpc.ServiceError) => this.fail(new ReflectionError(err.details || err.message, err.code)));
    call.on('end', () => this.fail(new ReflectionError('reflection stream ended early', grpc.status.UNAVAILABLE)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  ask(req: Omit<ServerReflectionRequest, 'host'>): Promise<ServerReflectionResponse> {
    if (this.failure) return Promise.reject(this.failure);
    this.call.write({ host: '', ...req });
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

/**
 * Lists the shard's services and fetches their files with every dependency,
 * then builds a protobuf-es registry. Tries reflection v1 and falls back to
 * v1alpha when the shard does not implement v1.
 */
export async function reflectShard(client: grpc.Client, deadline: Date): Promise<ReflectedShard> {
  let lastError: unknown;
  for (const { protocol, path } of REFLECTION_PATHS) {
    const call = client.makeBidiStreamRequest(path, requestSerialize, responseDeserialize, new grpc.Metadata(), { deadline });
    const stream = new ReflectionStream(call);
    try {
      return { ...(await reflectOver(stream)), protocol };
    } catch (err) {
      lastError = err;
      if (!(err instanceof ReflectionError && err.code === grpc.status.UNIMPLEMENTED)) throw err;
    } finally {
      stream.close();
    }
  }
  throw lastError;
}

async function reflectOver(stream: ReflectionStream): Promise<Omit<ReflectedShard, 'protocol'>> {
  const listed = await stream.ask({ listServices: '*' });
  const listError = errorOf(listed, 'list services');
  if (listError) throw listError;
  // gRPC infrastructure and the shard's own status service are not tools.
  const services = (listed.listServicesResponse?.service ?? [])
    .map((s) => s.name)
    .filter((s) => !s.startsWith('grpc.') && !s.startsWith('homelab.mcp.'))
    .sort();
  if (services.length === 0) throw new ReflectionError('the shard offers no service besides gRPC infrastructure', grpc.status.NOT_FOUND);

  const raw = new Map<string, Uint8Array>();
  const protos = new Map<string, FileDescriptorProto>();
  const add = (res: ServerReflectionResponse) => {
    for (const bytes of res.fileDescriptorResponse?.fileDescriptorProto ?? []) {
      const proto = fromBinary(FileDescriptorProtoSchema, bytes);
      if (!protos.has(proto.name)) {
        protos.set(proto.name, proto);
        raw.set(proto.name, bytes);
      }
    }
  };
  for (const service of services) {
    const res = await stream.ask({ fileContainingSymbol: service });
    const error = errorOf(res, `files of ${service}`);
    if (error) throw error;
    add(res);
  }
  // Servers may answer with the file alone: ask for what its imports still miss, once each.
  const asked = new Set<string>();
  for (let missing = missingDeps(protos, asked); missing.length > 0; missing = missingDeps(protos, asked)) {
    for (const name of missing) {
      asked.add(name);
      add(await stream.ask({ fileByFilename: name }));
      if (!protos.has(name) && !BUNDLED.has(name)) throw new ReflectionError(`the shard did not send ${name}, imported by its service files`, grpc.status.NOT_FOUND);
    }
  }

  const registryOf = fileRegistries(protos);
  const registry = createFileRegistry(...[...protos.keys()].sort().map((name) => registryOf(name)));
  const hash = createHash('sha256');
  for (const name of [...raw.keys()].sort()) hash.update(name).update('\0').update(raw.get(name)!);
  return { services, registry, hash: hash.digest('hex') };
}

/** Files imported by those the shard sent that it has not sent, and that were not asked for yet. */
function missingDeps(protos: Map<string, FileDescriptorProto>, asked: Set<string>): string[] {
  const missing = new Set<string>();
  for (const p of protos.values()) for (const d of p.dependency) if (!protos.has(d) && !asked.has(d)) missing.add(d);
  return [...missing].sort();
}

/**
 * A registry per file (the file and all it imports), each built once. The
 * resolver hands createFileRegistry files it has already built: given
 * FileDescriptorProtos instead, it can add a file before one it imports (when
 * a file imports X and also a file that imports X) and fail.
 */
function fileRegistries(protos: Map<string, FileDescriptorProto>): (name: string) => FileRegistry {
  const registries = new Map<string, FileRegistry>();
  const building = new Set<string>();
  const fileOf = (name: string): DescFile | undefined => {
    if (!protos.has(name)) return BUNDLED.get(name);
    // An import cycle makes no valid descriptor set: left unresolved, createFileRegistry reports it.
    if (building.has(name) && !registries.has(name)) return undefined;
    return registryOf(name).getFile(name);
  };
  const registryOf = (name: string): FileRegistry => {
    let registry = registries.get(name);
    if (!registry) {
      building.add(name);
      registry = createFileRegistry(protos.get(name)!, fileOf);
      registries.set(name, registry);
    }
    return registry;
  };
  return registryOf;
}
