import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** The google.rpc detail messages a shard attaches to a failed call. */
export interface StatusDetails {
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
  fieldViolations?: { field: string; description: string }[];
  /** What the user can do about it, in a sentence (sent as google.rpc.LocalizedMessage). */
  hint?: string;
}

const TYPE_PREFIX = 'type.googleapis.com/';

function any(typeName: string, value: Uint8Array): Uint8Array {
  return new BinaryWriter().uint32(10).string(TYPE_PREFIX + typeName).uint32(18).bytes(value).finish();
}

function errorInfo(reason: string, domain: string, metadata: Record<string, string>): Uint8Array {
  const w = new BinaryWriter().uint32(10).string(reason).uint32(18).string(domain);
  for (const [k, v] of Object.entries(metadata)) {
    w.uint32(26).bytes(new BinaryWriter().uint32(10).string(k).uint32(18).string(v).finish());
  }
  return w.finish();
}

function badRequest(violations: { field: string; description: string }[]): Uint8Array {
  const w = new BinaryWriter();
  for (const v of violations) w.uint32(10).bytes(new BinaryWriter().uint32(10).string(v.field).uint32(18).string(v.description).finish());
  return w.finish();
}

function localizedMessage(message: string): Uint8Array {
  return new BinaryWriter().uint32(10).string('en-US').uint32(18).string(message).finish();
}

/**
 * Encodes a google.rpc.Status for the `grpc-status-details-bin` trailer, the
 * standard place clients (the gateway, grpcurl, buf curl) read details from.
 */
export function encodeStatusDetails(code: number, message: string, d: StatusDetails): Buffer {
  const w = new BinaryWriter().uint32(8).int32(code).uint32(18).string(message);
  if (d.reason) w.uint32(26).bytes(any('google.rpc.ErrorInfo', errorInfo(d.reason, d.domain ?? 'homelab-mcp', d.metadata ?? {})));
  if (d.fieldViolations?.length) w.uint32(26).bytes(any('google.rpc.BadRequest', badRequest(d.fieldViolations)));
  if (d.hint) w.uint32(26).bytes(any('google.rpc.LocalizedMessage', localizedMessage(d.hint)));
  return Buffer.from(w.finish());
}
