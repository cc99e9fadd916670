import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

// The few gRPC infrastructure messages the gateway speaks (reflection, health,
// google.rpc.Status) are tiny and stable; coding them by hand avoids loading
// their .proto files at run time.

export { BinaryReader, BinaryWriter, WireType };

/** Calls `onField` for each field of a message; unknown fields are skipped. */
export function readFields(bytes: Uint8Array, onField: (fieldNo: number, reader: BinaryReader, wireType: WireType) => boolean | void): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (onField(fieldNo, reader, wireType) !== true) reader.skip(wireType, fieldNo);
  }
}

/** Serializer/deserializer pair that hands gRPC the bytes as they are. */
export const identityCodec = {
  serialize: (value: Uint8Array): Buffer => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  deserialize: (value: Buffer): Uint8Array => new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
};
