import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import type { DescriptorIndex } from './descriptor-index.js';

/** One ServerReflectionRequest, decoded (the same shape in v1 and v1alpha). */
interface ReflectionRequest {
  raw: Uint8Array;
  host: string;
  kind: 'file_by_filename' | 'file_containing_symbol' | 'file_containing_extension' | 'all_extension_numbers_of_type' | 'list_services' | 'none';
  value: string;
  extensionNumber: number;
}

function decodeRequest(raw: Uint8Array): ReflectionRequest {
  const req: ReflectionRequest = { raw, host: '', kind: 'none', value: '', extensionNumber: 0 };
  const r = new BinaryReader(raw);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    switch (field) {
      case 1: req.host = r.string(); break;
      case 3: req.kind = 'file_by_filename'; req.value = r.string(); break;
      case 4: req.kind = 'file_containing_symbol'; req.value = r.string(); break;
      case 5: {
        req.kind = 'file_containing_extension';
        const x = new BinaryReader(r.bytes());
        while (x.pos < x.len) {
          const [f, w] = x.tag();
          if (f === 1) req.value = x.string();
          else if (f === 2) req.extensionNumber = x.int32();
          else x.skip(w);
        }
        break;
      }
      case 6: req.kind = 'all_extension_numbers_of_type'; req.value = r.string(); break;
      case 7: req.kind = 'list_services'; r.string(); break;
      default: r.skip(wt);
    }
  }
  return req;
}

function errorResponse(w: BinaryWriter, code: grpc.status, message: string): void {
  w.uint32(58).bytes(new BinaryWriter().uint32(8).int32(code).uint32(18).string(message).finish());
}

function answer(index: DescriptorIndex, services: string[], req: ReflectionRequest): Uint8Array {
  const w = new BinaryWriter().uint32(10).string(req.host).uint32(18).bytes(req.raw);
  const files = (name: string | undefined, what: string) => {
    const list = name ? index.fileWithDeps(name) : undefined;
    if (!list) return errorResponse(w, grpc.status.NOT_FOUND, `${what} not found`);
    const fd = new BinaryWriter();
    for (const f of list) fd.uint32(10).bytes(f);
    w.uint32(34).bytes(fd.finish());
  };
  switch (req.kind) {
    case 'list_services': {
      const list = new BinaryWriter();
      for (const s of services) list.uint32(10).bytes(new BinaryWriter().uint32(10).string(s).finish());
      w.uint32(50).bytes(list.finish());
      break;
    }
    case 'file_by_filename':
      files(req.value, `file ${req.value}`);
      break;
    case 'file_containing_symbol':
      files(index.fileOfSymbol(req.value), `symbol ${req.value}`);
      break;
    case 'file_containing_extension':
      files(index.fileOfExtension(req.value, req.extensionNumber), `extension ${req.extensionNumber} of ${req.value}`);
      break;
    case 'all_extension_numbers_of_type': {
      const numbers = index.extensionNumbers(req.value);
      if (!numbers) {
        errorResponse(w, grpc.status.NOT_FOUND, `type ${req.value} not found`);
        break;
      }
      const x = new BinaryWriter().uint32(10).string(req.value);
      for (const n of numbers) x.uint32(16).int32(n);
      w.uint32(42).bytes(x.finish());
      break;
    }
    default:
      errorResponse(w, grpc.status.INVALID_ARGUMENT, 'unsupported reflection request');
  }
  return w.finish();
}

const identity = {
  serialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  deserialize: (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
};

function definition(pkg: string): grpc.ServiceDefinition {
  return {
    ServerReflectionInfo: {
      path: `/${pkg}.ServerReflection/ServerReflectionInfo`,
      requestStream: true,
      responseStream: true,
      requestSerialize: identity.serialize,
      requestDeserialize: identity.deserialize,
      responseSerialize: identity.serialize,
      responseDeserialize: identity.deserialize,
    },
  };
}

/**
 * Serves gRPC server reflection (v1 and v1alpha) from the descriptor index:
 * the original buf-built file bytes, so comments and custom options survive.
 */
export function addReflectionToServer(server: grpc.Server, index: DescriptorIndex, services: string[]): void {
  // Only services whose descriptors this index can hand out: a client that lists
  // methods asks for the file of every listed service.
  const listed = services.filter((s) => index.fileOfSymbol(s));
  const handler = (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
    call.on('data', (raw: Uint8Array) => {
      call.write(answer(index, listed, decodeRequest(raw)));
    });
    call.on('end', () => call.end());
    call.on('error', () => call.end());
  };
  for (const pkg of ['grpc.reflection.v1', 'grpc.reflection.v1alpha']) {
    server.addService(definition(pkg), { ServerReflectionInfo: handler });
  }
}
