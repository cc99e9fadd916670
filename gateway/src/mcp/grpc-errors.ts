import * as grpc from '@grpc/grpc-js';
import { readFields } from '../discovery/wire.js';

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

function decodeAny(bytes: Uint8Array): { typeUrl: string; value: Uint8Array } {
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array();
  readFields(bytes, (no, r) => {
    if (no === 1) typeUrl = r.string();
    else if (no === 2) value = r.bytes();
    else return;
    return true;
  });
  return { typeUrl, value };
}

function readStrings(bytes: Uint8Array, fields: number[]): string[] {
  const out = fields.map(() => '');
  readFields(bytes, (no, r) => {
    const i = fields.indexOf(no);
    if (i < 0) return;
    out[i] = r.string();
    return true;
  });
  return out;
}

function applyDetail(failure: CallFailure, typeUrl: string, value: Uint8Array): void {
  const type = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  switch (type) {
    case 'google.rpc.ErrorInfo': {
      const metadata: Record<string, string> = {};
      readFields(value, (no, r) => {
        if (no === 1) failure.reason = r.string();
        else if (no === 2) failure.domain = r.string();
        else if (no === 3) {
          const [k, v] = readStrings(r.bytes(), [1, 2]);
          metadata[k!] = v!;
        } else return;
        return true;
      });
      if (Object.keys(metadata).length > 0) failure.metadata = metadata;
      // Shards may carry the "what to do" line in ErrorInfo metadata.
      failure.hint ??= metadata.hint;
      break;
    }
    case 'google.rpc.BadRequest': {
      const violations: FieldViolation[] = [];
      readFields(value, (no, r) => {
        if (no !== 1) return;
        const [field, description] = readStrings(r.bytes(), [1, 2]);
        violations.push({ field: field!, description: description! });
        return true;
      });
      failure.fieldViolations = [...(failure.fieldViolations ?? []), ...violations];
      break;
    }
    case 'google.rpc.PreconditionFailure': {
      const list: string[] = [];
      readFields(value, (no, r) => {
        if (no !== 1) return;
        const [t, subject, description] = readStrings(r.bytes(), [1, 2, 3]);
        list.push([t, subject].filter(Boolean).join(' ') + (description ? `: ${description}` : ''));
        return true;
      });
      failure.preconditionViolations = list;
      break;
    }
    case 'google.rpc.Help': {
      const links: string[] = [];
      readFields(value, (no, r) => {
        if (no !== 1) return;
        const [description, url] = readStrings(r.bytes(), [1, 2]);
        links.push([description, url].filter(Boolean).join(': '));
        return true;
      });
      if (links.length > 0) failure.hint = [failure.hint, ...links].filter(Boolean).join('; ');
      break;
    }
    case 'google.rpc.LocalizedMessage': {
      const [, message] = readStrings(value, [1, 2]);
      if (message) failure.hint = failure.hint ? `${failure.hint}; ${message}` : message;
      break;
    }
    case 'google.rpc.RetryInfo': {
      readFields(value, (no, r) => {
        if (no !== 1) return;
        let seconds = 0;
        let nanos = 0;
        readFields(r.bytes(), (dno, dr) => {
          if (dno === 1) seconds = Number(dr.int64());
          else if (dno === 2) nanos = dr.int32();
          else return;
          return true;
        });
        failure.retryAfterMs = seconds * 1000 + Math.round(nanos / 1e6);
        return true;
      });
      break;
    }
    case 'google.rpc.ResourceInfo': {
      const [resourceType, resourceName] = readStrings(value, [1, 2]);
      failure.resource = [resourceType, resourceName].filter(Boolean).join(' ');
      break;
    }
    default:
      // DebugInfo and unknown details stay out of what a client sees.
      break;
  }
}

/** Decodes the status and its `grpc-status-details-bin` details from a failed call. */
export function decodeCallFailure(err: grpc.ServiceError): CallFailure {
  const failure: CallFailure = { code: codeName(err.code), message: err.details || err.message };
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (raw instanceof Buffer) {
    try {
      readFields(raw, (no, r) => {
        if (no === 2) {
          const message = r.string();
          if (message) failure.message = message;
        } else if (no === 3) {
          const any = decodeAny(r.bytes());
          applyDetail(failure, any.typeUrl, any.value);
        } else return;
        return true;
      });
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
