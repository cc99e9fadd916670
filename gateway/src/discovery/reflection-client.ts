import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
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
import { create } from '@bufbuild/protobuf';
import { BinaryWriter, WireType, identityCodec, readFields } from './wire.js';

const REFLECTION_PATHS = [
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
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

type Request = { listServices: true } | { fileContainingSymbol: string } | { fileByFilename: string };

interface Response {
  services?: string[];
  files?: Uint8Array[];
  error?: { code: number; message: string };
}

function encodeRequest(req: Request): Uint8Array {
  const w = new BinaryWriter();
  if ('listServices' in req) w.tag(7, WireType.LengthDelimited).string('*');
  else if ('fileContainingSymbol' in req) w.tag(4, WireType.LengthDelimited).string(req.fileContainingSymbol);
  else w.tag(3, WireType.LengthDelimited).string(req.fileByFilename);
  return w.finish();
}

function decodeResponse(bytes: Uint8Array): Response {
  const res: Response = {};
  readFields(bytes, (no, r) => {
    if (no === 4) {
      const files: Uint8Array[] = [];
      readFields(r.bytes(), (fno, fr) => {
        if (fno === 1) {
          files.push(fr.bytes());
          return true;
        }
      });
      res.files = files;
      return true;
    }
    if (no === 6) {
      const services: string[] = [];
      readFields(r.bytes(), (sno, sr) => {
        if (sno !== 1) return;
        readFields(sr.bytes(), (nno, nr) => {
          if (nno === 1) {
          services.push(nr.string());
          return true;
        }
        });
        return true;
      });
      res.services = services;
      return true;
    }
    if (no === 7) {
      const error = { code: 0, message: '' };
      readFields(r.bytes(), (eno, er) => {
        if (eno === 1) {
          error.code = er.int32();
          return true;
        }
        if (eno === 2) {
          error.message = er.string();
          return true;
        }
      });
      res.error = error;
      return true;
    }
  });
  return res;
}

// Shards normally send the well-known types with their own files; these are
// used only when one does not.
const BUNDLED = new Map(
  [
    file_google_protobuf_any,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_wrappers,
  ].map((f) => [f.proto.name, f.proto] as const),
);

/** One reflection conversation over a bidi stream: request, then wait for its answer. */
class ReflectionStream {
  private readonly queue: Response[] = [];
  private waiter?: { resolve: (r: Response) => void; reject: (e: Error) => void };
  private failure?: Error;

  constructor(private readonly call: grpc.ClientDuplexStream<Uint8Array, Uint8Array>) {
    call.on('data', (bytes: Uint8Array) => {
      const res = decodeResponse(bytes);
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

  ask(req: Request): Promise<Response> {
    if (this.failure) return Promise.reject(this.failure);
    this.call.write(encodeRequest(req));
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
  for (const path of REFLECTION_PATHS) {
    const call = client.makeBidiStreamRequest(path, identityCodec.serialize, identityCodec.deserialize, new grpc.Metadata(), { deadline });
    const stream = new ReflectionStream(call);
    try {
      const result = await reflectOver(stream);
      return { ...result, protocol: path.includes('v1alpha') ? 'v1alpha' : 'v1' };
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
  const listed = await stream.ask({ listServices: true });
  if (listed.error) throw new ReflectionError(`list services: ${listed.error.message}`, listed.error.code);
  // gRPC infrastructure and the shard's own status service are not tools.
  const services = (listed.services ?? []).filter((s) => !s.startsWith('grpc.') && !s.startsWith('homelab.mcp.')).sort();
  if (services.length === 0) throw new ReflectionError('the shard offers no service besides gRPC infrastructure', grpc.status.NOT_FOUND);

  const raw = new Map<string, Uint8Array>();
  const protos = new Map<string, FileDescriptorProto>();
  const add = (files: Uint8Array[] | undefined) => {
    for (const bytes of files ?? []) {
      const proto = fromBinary(FileDescriptorProtoSchema, bytes);
      if (!protos.has(proto.name)) {
        protos.set(proto.name, proto);
        raw.set(proto.name, bytes);
      }
    }
  };
  for (const service of services) {
    const res = await stream.ask({ fileContainingSymbol: service });
    if (res.error) throw new ReflectionError(`files of ${service}: ${res.error.message}`, res.error.code);
    add(res.files);
  }
  // Servers may answer with the file alone; fetch what its imports still miss.
  for (let missing = missingDeps(protos); missing.length > 0; missing = missingDeps(protos)) {
    let progressed = false;
    for (const name of missing) {
      const res = await stream.ask({ fileByFilename: name });
      if (!res.error && res.files?.length) {
        add(res.files);
        progressed = progressed || protos.has(name);
      }
      if (!protos.has(name)) {
        const bundled = BUNDLED.get(name);
        if (!bundled) throw new ReflectionError(`the shard did not send ${name}, imported by its service files`, grpc.status.NOT_FOUND);
        protos.set(name, bundled);
        progressed = true;
      }
    }
    if (!progressed) break;
  }

  const ordered = orderByDependencies(protos);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  const hash = createHash('sha256');
  for (const name of [...raw.keys()].sort()) hash.update(name).update('\0').update(raw.get(name)!);
  return { services, registry, hash: hash.digest('hex') };
}

function missingDeps(protos: Map<string, FileDescriptorProto>): string[] {
  const missing = new Set<string>();
  for (const p of protos.values()) for (const d of p.dependency) if (!protos.has(d)) missing.add(d);
  return [...missing].sort();
}

function orderByDependencies(protos: Map<string, FileDescriptorProto>): FileDescriptorProto[] {
  const out: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const p = protos.get(name);
    if (!p) return;
    for (const d of p.dependency) visit(d);
    out.push(p);
  };
  for (const name of [...protos.keys()].sort()) visit(name);
  return out;
}
