import type { Any } from '@homelab-mcp/proto/ts/google/protobuf/any.js';
import { BadRequest, ErrorInfo, LocalizedMessage } from '@homelab-mcp/proto/ts/google/rpc/error_details.js';
import { Status } from '@homelab-mcp/proto/ts/google/rpc/status.js';

/** The google.rpc detail messages a shard attaches to a failed call. */
export interface StatusDetails {
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
  fieldViolations?: { field: string; description: string }[];
  /** What the user can do about it, in a sentence (sent as google.rpc.LocalizedMessage). */
  hint?: string;
}

interface Encodes<T> {
  encode(message: T): { finish(): Uint8Array };
}

function pack<T>(type: Encodes<T>, typeName: string, message: T): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(type.encode(message).finish()) };
}

/**
 * Encodes a google.rpc.Status for the `grpc-status-details-bin` trailer, the
 * standard place clients (the gateway, grpcurl, buf curl) read details from.
 */
export function encodeStatusDetails(code: number, message: string, d: StatusDetails): Buffer {
  const details: Any[] = [];
  if (d.reason) details.push(pack(ErrorInfo, 'google.rpc.ErrorInfo', { reason: d.reason, domain: d.domain ?? 'homelab-mcp', metadata: d.metadata ?? {} }));
  if (d.fieldViolations?.length) details.push(pack(BadRequest, 'google.rpc.BadRequest', BadRequest.fromPartial({ fieldViolations: d.fieldViolations })));
  if (d.hint) details.push(pack(LocalizedMessage, 'google.rpc.LocalizedMessage', { locale: 'en-US', message: d.hint }));
  return Buffer.from(Status.encode({ code, message, details }).finish());
}
