import * as grpc from '@grpc/grpc-js';
import type { Any } from '@homelab-mcp/proto/ts/google/protobuf/any.js';
import {
  BadRequest,
  ErrorInfo,
  Help,
  LocalizedMessage,
  PreconditionFailure,
  ResourceInfo,
  RetryInfo,
} from '@homelab-mcp/proto/ts/google/rpc/error_details.js';
import { Status } from '@homelab-mcp/proto/ts/google/rpc/status.js';
import { toMs } from '@homelab-mcp/component-kit/timestamps.js';

export interface FieldViolation {
  field: string;
  description: string;
}

/** A failed gRPC call with its google.rpc details, decoded. */
export interface CallFailure {
  code: string;
  message: string;
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
  fieldViolations?: FieldViolation[];
  preconditionViolations?: string[];
  hint?: string;
  retryAfterMs?: number;
  resource?: string;
}

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<number, string>;

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

/** Adds a "what to do" line once: shard-kit sends its hint both in ErrorInfo metadata and as a LocalizedMessage. */
const addHint = (failure: CallFailure, hint: string) => {
  if (failure.hint?.split('; ').includes(hint)) return;
  failure.hint = failure.hint ? `${failure.hint}; ${hint}` : hint;
};

/** What each google.rpc detail adds to the failure; DebugInfo and unknown details stay out of what a client sees. */
const DETAILS: Record<string, (failure: CallFailure, value: Uint8Array) => void> = {
  'google.rpc.ErrorInfo': (failure, value) => {
    const info = ErrorInfo.decode(value);
    if (info.reason) failure.reason = info.reason;
    if (info.domain) failure.domain = info.domain;
    if (Object.keys(info.metadata).length > 0) failure.metadata = info.metadata;
    // Shards may carry the "what to do" line in ErrorInfo metadata.
    failure.hint ??= info.metadata.hint;
  },
  'google.rpc.BadRequest': (failure, value) => {
    const violations = BadRequest.decode(value).fieldViolations.map(({ field, description }) => ({ field, description }));
    failure.fieldViolations = [...(failure.fieldViolations ?? []), ...violations];
  },
  'google.rpc.PreconditionFailure': (failure, value) => {
    failure.preconditionViolations = PreconditionFailure.decode(value).violations.map(
      ({ type, subject, description }) => [type, subject].filter(Boolean).join(' ') + (description ? `: ${description}` : ''),
    );
  },
  'google.rpc.Help': (failure, value) => {
    const links = Help.decode(value).links.map(({ description, url }) => [description, url].filter(Boolean).join(': ')).filter(Boolean);
    if (links.length > 0) addHint(failure, links.join('; '));
  },
  'google.rpc.LocalizedMessage': (failure, value) => {
    const { message } = LocalizedMessage.decode(value);
    if (message) addHint(failure, message);
  },
  'google.rpc.RetryInfo': (failure, value) => {
    const delay = RetryInfo.decode(value).retryDelay;
    if (delay) failure.retryAfterMs = toMs(delay);
  },
  'google.rpc.ResourceInfo': (failure, value) => {
    const { resourceType, resourceName } = ResourceInfo.decode(value);
    failure.resource = [resourceType, resourceName].filter(Boolean).join(' ');
  },
};

function applyDetail(failure: CallFailure, { typeUrl, value }: Any): void {
  DETAILS[typeUrl.slice(typeUrl.lastIndexOf('/') + 1)]?.(failure, value);
}

/** Decodes the status and its `grpc-status-details-bin` details from a failed call. */
export function decodeCallFailure(err: grpc.ServiceError): CallFailure {
  const failure: CallFailure = { code: codeName(err.code), message: err.details || err.message };
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (raw instanceof Buffer) {
    try {
      const status = Status.decode(raw);
      if (status.message) failure.message = status.message;
      for (const detail of status.details) applyDetail(failure, detail);
    } catch {
      // A malformed details blob must not hide the status itself.
    }
  }
  return failure;
}

/** True when the error came from the gateway's channel, not from a shard handler. */
export function isTransportFailure(err: grpc.ServiceError): boolean {
  return err.code === grpc.status.UNAVAILABLE && !err.metadata?.get('grpc-status-details-bin').length;
}

/**
 * True when the call ended without an answer from the shard's handler (the
 * link dropped, the deadline passed, the call was cancelled): the gateway
 * cannot know how far the shard got. Every status a handler sends carries
 * google.rpc details; these come from the gRPC layer and carry none.
 */
export function isCutOff(err: grpc.ServiceError): boolean {
  const cutOffCodes: number[] = [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.INTERNAL, grpc.status.UNKNOWN];
  return cutOffCodes.includes(err.code) && !err.metadata?.get('grpc-status-details-bin').length;
}

/**
 * A call that could change something was cut off: say that it may have taken
 * effect, and with which tool to look before trying again.
 */
export function describeUnknownOutcome(tool: string, shard: string, failure: CallFailure, transport: boolean, timeoutMs: number, verify: readonly string[], planned: boolean): string {
  const why =
    failure.code === 'DEADLINE_EXCEEDED'
      ? `no answer within ${timeoutMs} ms`
      : failure.code === 'CANCELLED'
        ? 'the call was cancelled'
        : transport
          ? `the ${shard} shard went offline during the call (${failure.message})`
          : `the call to the ${shard} shard broke off (${failure.code}: ${failure.message})`;
  const check = verify.length === 1 ? verify[0] : verify.length ? `the ${shard} shard's read tools (${verify.join(', ')})` : `the ${shard} shard's read tools`;
  return [
    `${tool} was cut off: ${why}. The request had been sent, so the change may or may not have been applied.`,
    `What to do: check with ${check} whether it took effect before retrying (homelab_status shows when the ${shard} shard is serving again)` +
      (planned ? `; if it did not, call ${tool} without plan_id for a new plan (a plan is used once).` : '.'),
  ].join('\n');
}

/**
 * Words a person can act on: what failed, why, and what to do next.
 */
export function describeCallFailure(tool: string, shard: string, failure: CallFailure, transport: boolean, timeoutMs: number): string {
  const lines: string[] = [];
  switch (failure.code) {
    case 'UNAVAILABLE':
      lines.push(
        transport
          ? `${tool} failed: the ${shard} shard is offline or unreachable (${failure.message}).`
          : `${tool} failed: the upstream behind the ${shard} shard is unreachable: ${failure.message}`,
      );
      failure.hint ??= transport
        ? `Check that shard-${shard} is running and reachable from the gateway; homelab_status shows its state.`
        : 'Check that the service is up and reachable from the shard, then retry.';
      break;
    case 'DEADLINE_EXCEEDED':
      lines.push(`${tool} failed: no answer within ${timeoutMs} ms (${failure.message}).`);
      failure.hint ??= 'Retry with a narrower request, or check whether the upstream is overloaded.';
      break;
    case 'PERMISSION_DENIED':
      lines.push(`${tool} failed: permission denied: ${failure.message}`);
      failure.hint ??= `Give the ${shard} shard's credentials the permission this action needs.`;
      break;
    case 'UNAUTHENTICATED':
      lines.push(`${tool} failed: the upstream rejected the ${shard} shard's credentials: ${failure.message}`);
      failure.hint ??= `Check the API token configured for the ${shard} shard.`;
      break;
    case 'INVALID_ARGUMENT':
      lines.push(`${tool} failed: invalid argument: ${failure.message}`);
      break;
    case 'NOT_FOUND':
      lines.push(`${tool} failed: not found: ${failure.message}`);
      break;
    case 'ALREADY_EXISTS':
      lines.push(`${tool} failed: already exists: ${failure.message}`);
      break;
    case 'FAILED_PRECONDITION':
      lines.push(`${tool} failed: precondition not met: ${failure.message}`);
      break;
    case 'RESOURCE_EXHAUSTED':
      lines.push(`${tool} failed: rate limited or out of resources: ${failure.message}`);
      break;
    case 'CANCELLED':
      lines.push(`${tool} was cancelled: ${failure.message}`);
      break;
    case 'UNIMPLEMENTED':
      lines.push(`${tool} failed: the ${shard} shard does not implement it (${failure.message}); its contract may have changed.`);
      break;
    default:
      lines.push(`${tool} failed (${failure.code}): ${failure.message}`);
  }
  for (const v of failure.fieldViolations ?? []) lines.push(`- field ${v.field}: ${v.description}`);
  for (const v of failure.preconditionViolations ?? []) lines.push(`- ${v}`);
  if (failure.resource) lines.push(`Resource: ${failure.resource}`);
  if (failure.reason) lines.push(`Reason: ${failure.reason}${failure.domain ? ` (${failure.domain})` : ''}`);
  if (failure.retryAfterMs !== undefined) lines.push(`Retry after ${Math.ceil(failure.retryAfterMs / 1000)} s.`);
  if (failure.hint) lines.push(`What to do: ${failure.hint}`);
  return lines.join('\n');
}
