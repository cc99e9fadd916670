import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, ServiceDescriptorProtoSchema, file_google_protobuf_empty } from '@bufbuild/protobuf/wkt';
import { HealthCheckResponse_ServingStatus, HealthService, type HealthServer } from '@homelab-mcp/proto/ts/grpc/health/v1/health.js';
import { identityCodec } from '../../src/discovery/wire.js';
import {
  ServerReflectionService,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@homelab-mcp/proto/ts/grpc/reflection/v1/reflection.js';

// A shard written with plain grpc-js, independent of shard-kit: it speaks only
// reflection v1alpha (so the gateway's fallback is exercised) and health, and
// offers the fixture tool the MCP conformance suite calls (`test_error_handling`).

const SERVICE = 'homelab.conformance.v1.ConformanceFixtureService';
export const FIXTURE_ERROR_TEXT = 'This tool intentionally returns an error for testing';

// Source locations are paths of field numbers: the file's services, a service's methods.
const SERVICES = FileDescriptorProtoSchema.field.service!.number;
const METHODS = ServiceDescriptorProtoSchema.field.method!.number;

const fixtureFile = create(FileDescriptorProtoSchema, {
  name: 'homelab/conformance/v1/fixture.proto',
  package: 'homelab.conformance.v1',
  dependency: ['google/protobuf/empty.proto'],
  syntax: 'proto3',
  service: [
    {
      name: 'ConformanceFixtureService',
      method: [{ name: 'TestErrorHandling', inputType: '.google.protobuf.Empty', outputType: '.google.protobuf.Empty' }],
    },
  ],
  sourceCodeInfo: {
    location: [
      { path: [SERVICES, 0], span: [0, 0, 0], leadingComments: ' Fixtures of the MCP conformance suite.\n' },
      { path: [SERVICES, 0, METHODS, 0], span: [1, 0, 0], leadingComments: ' Always fails, so clients can check how tool errors look.\n' },
    ],
  },
});
const FILES = new Map<string, Buffer>([
  [fixtureFile.name, Buffer.from(toBinary(FileDescriptorProtoSchema, fixtureFile))],
  [file_google_protobuf_empty.proto.name, Buffer.from(toBinary(FileDescriptorProtoSchema, file_google_protobuf_empty.proto))],
]);

const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identityCodec.serialize,
  requestDeserialize: identityCodec.deserialize,
  responseSerialize: identityCodec.serialize,
  responseDeserialize: identityCodec.deserialize,
});

function reflectionAnswer(req: ServerReflectionRequest): ServerReflectionResponse {
  const res = { validHost: req.host, originalRequest: req };
  if (req.listServices !== undefined) {
    return { ...res, listServicesResponse: { service: [SERVICE, 'grpc.health.v1.Health', 'grpc.reflection.v1alpha.ServerReflection'].map((name) => ({ name })) } };
  }
  const wanted = req.fileContainingSymbol ?? req.fileByFilename ?? '';
  const file = req.fileContainingSymbol !== undefined ? (wanted.startsWith('homelab.conformance.') ? fixtureFile.name : undefined) : wanted;
  const bytes = file ? FILES.get(file) : undefined;
  if (bytes) return { ...res, fileDescriptorResponse: { fileDescriptorProto: [bytes] } };
  return { ...res, errorResponse: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${wanted} not found` } };
}

/** Always SERVING. */
const health: HealthServer = {
  watch: (call) => {
    call.write({ status: HealthCheckResponse_ServingStatus.SERVING });
  },
  check: (_call, cb) => cb(null, { status: HealthCheckResponse_ServingStatus.SERVING }),
  list: (_call, cb) => cb(null, { statuses: { '': { status: HealthCheckResponse_ServingStatus.SERVING } } }),
};

export interface FixtureShard {
  port: number;
  close(): Promise<void>;
}

/** Starts the fixture shard on 127.0.0.1 (plaintext: it exists for loopback tests only). */
export async function startFixtureShard(port = 0): Promise<FixtureShard> {
  const server = new grpc.Server();
  server.addService(
    { info: { ...ServerReflectionService.serverReflectionInfo, path: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo' } },
    {
      info: (call: grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>) => {
        call.on('data', (req: ServerReflectionRequest) => call.write(reflectionAnswer(req)));
        call.on('end', () => call.end());
      },
    },
  );
  server.addService(HealthService, health);
  server.addService(
    { testErrorHandling: method(`/${SERVICE}/TestErrorHandling`, false, false) },
    {
      testErrorHandling: (_call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, cb: grpc.sendUnaryData<Uint8Array>) =>
        cb({ code: grpc.status.INTERNAL, details: FIXTURE_ERROR_TEXT }),
    },
  );
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
