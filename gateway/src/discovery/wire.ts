// Tool calls carry messages the gateway encodes and decodes through protobuf-es
// registries (src/schema); gRPC gets the bytes as they are.

/** Serializer/deserializer pair that hands gRPC the bytes as they are. */
export const identityCodec = {
  serialize: (value: Uint8Array): Buffer => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  deserialize: (value: Buffer): Uint8Array => new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
};
