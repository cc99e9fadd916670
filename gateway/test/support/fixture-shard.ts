import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema, file_google_protobuf_empty } from '@bufbuild/protobuf/wkt';

// A shard written with plain grpc-js, independent of shard-kit: it speaks only
// reflection v1alpha (so the gateway's fallback is exercised) and health, and
// offers the fixture tool the MCP conformance suite calls (`test_error_handling`).

const SERVICE = 'homelab.conformance.v1.ConformanceFixtureService';
export const FIXTURE_ERROR_TEXT = 'This tool intentionally returns an error for testing';

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
      { path: [6, 0], span: [0, 0, 0], leadingComments: ' Fixtures of the MCP conformance suite.\n' },
      { path: [6, 0, 2, 0], span: [1, 0, 0], leadingComments: ' Always fails, so clients can check how tool errors look.\n' },
    ],
  },
});
const FILES = new Map<string, Uint8Array>([
  [fixtureFile.name, toBinary(FileDescriptorProtoSchema, fixtureFile)],
  [file_google_protobuf_empty.proto.name, toBinary(FileDescriptorProtoSchema, file_google_protobuf_empty.proto)],
]);

const raw = {
  serialize: (v: Uint8Array) => Buffer.from(v),
  deserialize: (v: Buffer) => new Uint8Array(v),
};
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});

function reflectionAnswer(request: Uint8Array): Uint8Array {
  const reader = new BinaryReader(request);
  const w = new BinaryWriter();
  while (reader.pos < reader.len) {
    const [no, wt] = reader.tag();
    if (no === 7) {
      reader.string();
      w.tag(6, WireType.LengthDelimited).fork();
      for (const name of [SERVICE, 'grpc.health.v1.Health', 'grpc.reflection.v1alpha.ServerReflection']) {
        w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(name).join();
      }
      w.join();
    } else if (no === 4 || no === 3) {
      const wanted = reader.string();
      const file = no === 4 ? (wanted.startsWith('homelab.conformance.') ? fixtureFile.name : undefined) : wanted;
      const bytes = file ? FILES.get(file) : undefined;
      if (bytes) w.tag(4, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).bytes(bytes).join();
      else w.tag(7, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int32(grpc.status.NOT_FOUND).tag(2, WireType.LengthDelimited).string(`${wanted} not found`).join();
    } else reader.skip(wt, no);
  }
  return w.finish();
}

export interface FixtureShard {
  port: number;
  close(): Promise<void>;
}

/** Starts the fixture shard on 127.0.0.1 (plaintext: it exists for loopback tests only). */
export async function startFixtureShard(port = 0): Promise<FixtureShard> {
  const server = new grpc.Server();
  server.addService(
    { info: method('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', true, true) },
    {
      info: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        call.on('data', (req: Uint8Array) => call.write(reflectionAnswer(req)));
        call.on('end', () => call.end());
      },
    },
  );
  const serving = new BinaryWriter().tag(1, WireType.Varint).int32(1).finish();
  server.addService(
    { watch: method('/grpc.health.v1.Health/Watch', false, true), check: method('/grpc.health.v1.Health/Check', false, false) },
    {
      watch: (call: grpc.ServerWritableStream<Uint8Array, Uint8Array>) => {
        call.write(serving);
      },
      check: (_call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, cb: grpc.sendUnaryData<Uint8Array>) => cb(null, serving),
    },
  );
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
