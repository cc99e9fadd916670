import * as grpc from '@grpc/grpc-js';
import { encodeStatusDetails, type StatusDetails } from './status-details.js';

export type ShardErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL'
  | 'CANCELLED'
  | 'UNIMPLEMENTED';

export interface ShardErrorOptions {
  /** What the user can do about it, in a sentence. */
  hint?: string;
  /** Machine-readable reason (google.rpc.ErrorInfo), e.g. "UPSTREAM_UNREACHABLE". */
  reason?: string;
  fieldViolations?: { field: string; description: string }[];
  metadata?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error type shard handlers throw. serve() turns it into a gRPC status
 * with google.rpc details, so every shard reports failures the same way.
 */
export class ShardError extends Error {
  readonly code: ShardErrorCode;
  readonly hint: string | undefined;
  readonly reason: string;
  readonly fieldViolations: { field: string; description: string }[];
  readonly metadata: Record<string, string>;

  constructor(code: ShardErrorCode, message: string, opts: ShardErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ShardError';
    this.code = code;
    this.hint = opts.hint;
    this.reason = opts.reason ?? code;
    this.fieldViolations = opts.fieldViolations ?? [];
    this.metadata = opts.metadata ?? {};
  }
}

/** An HTTP response from an upstream that was not OK. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly url: string,
  ) {
    super(`HTTP ${status} from ${url}${body ? `: ${body.slice(0, 300)}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function upstreamMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; detail?: unknown };
    const m = parsed.message ?? parsed.detail;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON: use the text as it is
  }
  return body.trim().slice(0, 300);
}

/**
 * Maps any failure talking to an upstream (fetch/undici errors, HttpStatusError,
 * aborts, timeouts) to the ShardError that says what happened and what to do.
 * `what` names the upstream, e.g. "Traefik API".
 */
export function upstreamError(err: unknown, what: string): ShardError {
  if (err instanceof ShardError) return err;
  if (err instanceof HttpStatusError) {
    const said = upstreamMessage(err.body);
    const detail = `${what} answered ${err.status}${said ? `: ${said}` : ''}`;
    const meta = { status: String(err.status) };
    switch (true) {
      case err.status === 400 || err.status === 422:
        return new ShardError('INVALID_ARGUMENT', detail, { reason: 'UPSTREAM_REJECTED', metadata: meta, hint: `${what} rejected the request; correct the value it names and retry.` });
      case err.status === 401:
        return new ShardError('UNAUTHENTICATED', detail, { reason: 'UPSTREAM_UNAUTHENTICATED', metadata: meta, hint: `Check the credentials (API token) configured for the ${what}.` });
      case err.status === 403:
        return new ShardError('PERMISSION_DENIED', detail, { reason: 'UPSTREAM_FORBIDDEN', metadata: meta, hint: `The credentials for the ${what} lack this permission, or the token expired; issue a token with the needed rights.` });
      case err.status === 404:
        return new ShardError('NOT_FOUND', detail, { reason: 'UPSTREAM_NOT_FOUND', metadata: meta, hint: 'Check the name; list what exists first.' });
      case err.status === 409:
        return new ShardError('ALREADY_EXISTS', detail, { reason: 'UPSTREAM_CONFLICT', metadata: meta, hint: 'Something with that name exists already; pick another name or update the existing one.' });
      case err.status === 429:
        return new ShardError('RESOURCE_EXHAUSTED', detail, { reason: 'UPSTREAM_RATE_LIMITED', metadata: meta, hint: 'Wait a little and retry.' });
      case err.status >= 500:
        return new ShardError('UNAVAILABLE', detail, { reason: 'UPSTREAM_ERROR', metadata: meta, hint: `The ${what} is failing; check its logs and retry.` });
      default:
        return new ShardError('FAILED_PRECONDITION', detail, { reason: 'UPSTREAM_UNEXPECTED', metadata: meta });
    }
  }
  const name = (err as { name?: unknown })?.name;
  if (name === 'TimeoutError') {
    return new ShardError('DEADLINE_EXCEEDED', `${what} did not answer in time`, { reason: 'UPSTREAM_TIMEOUT', hint: `Check that the ${what} is up and not overloaded.`, cause: err });
  }
  if (name === 'AbortError') {
    return new ShardError('CANCELLED', `the call to the ${what} was cancelled`, { reason: 'CANCELLED', cause: err });
  }
  const errno = errnoOf(err);
  const reachHint = `Check that the ${what} is running and reachable from this shard (address, DNS, firewall).`;
  switch (errno) {
    case 'ECONNREFUSED':
      return new ShardError('UNAVAILABLE', `${what} refused the connection`, { reason: 'UPSTREAM_UNREACHABLE', hint: reachHint, cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ShardError('UNAVAILABLE', `${what}: host name not found`, { reason: 'UPSTREAM_UNREACHABLE', hint: reachHint, cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ShardError('UNAVAILABLE', `${what} connection failed (${errno})`, { reason: 'UPSTREAM_UNREACHABLE', hint: reachHint, cause: err });
    case 'ETIMEDOUT':
      return new ShardError('DEADLINE_EXCEEDED', `${what} did not answer in time`, { reason: 'UPSTREAM_TIMEOUT', hint: reachHint, cause: err });
    default:
      break;
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/fetch failed|socket|network/i.test(text)) {
    return new ShardError('UNAVAILABLE', `${what} could not be reached: ${text}`, { reason: 'UPSTREAM_UNREACHABLE', hint: reachHint, cause: err });
  }
  return new ShardError('INTERNAL', `${what} call failed: ${text}`, { reason: 'INTERNAL', cause: err });
}

/** The gRPC status (with details trailer) for anything a handler threw. */
export function toGrpcStatus(err: unknown): grpc.StatusObject {
  const e = err instanceof ShardError
    ? err
    : new ShardError('INTERNAL', 'the shard failed unexpectedly; its log has the details', { reason: 'INTERNAL' });
  const code = grpc.status[e.code];
  const metadata = new grpc.Metadata();
  const details: StatusDetails = {
    reason: e.reason,
    domain: 'homelab-mcp',
    metadata: { ...e.metadata, ...(e.hint ? { hint: e.hint } : {}) },
    fieldViolations: e.fieldViolations,
    ...(e.hint ? { hint: e.hint } : {}),
  };
  metadata.set('grpc-status-details-bin', encodeStatusDetails(code, e.message, details));
  return { code, details: e.message, metadata };
}
