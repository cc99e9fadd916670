import { describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import type { Any } from '@homelab-mcp/proto/ts/google/protobuf/any.js';
import {
  BadRequest,
  DebugInfo,
  ErrorInfo,
  Help,
  LocalizedMessage,
  PreconditionFailure,
  ResourceInfo,
  RetryInfo,
} from '@homelab-mcp/proto/ts/google/rpc/error_details.js';
import { Status } from '@homelab-mcp/proto/ts/google/rpc/status.js';
import { ShardError, toGrpcStatus } from '@homelab-mcp/shard-kit';
import { decodeCallFailure } from '../src/mcp/grpc-errors.js';

const any = <T>(type: { encode(m: T): { finish(): Uint8Array } }, name: string, message: T): Any => ({
  typeUrl: `type.googleapis.com/google.rpc.${name}`,
  value: Buffer.from(type.encode(message).finish()),
});

function failed(code: grpc.status, details: string, status?: Status): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (status) metadata.set('grpc-status-details-bin', Buffer.from(Status.encode(status).finish()));
  return Object.assign(new Error(details), { code, details, metadata });
}

describe('decodeCallFailure', () => {
  it('reads every google.rpc detail a shard or upstream may send, and leaves DebugInfo out', () => {
    const status: Status = {
      code: grpc.status.FAILED_PRECONDITION,
      message: 'the router is not ready',
      details: [
        any(ErrorInfo, 'ErrorInfo', { reason: 'ROUTER_PENDING', domain: 'traefik', metadata: { router: 'gitea', hint: 'Wait for Traefik to reload.' } }),
        any(BadRequest, 'BadRequest', BadRequest.fromPartial({ fieldViolations: [{ field: 'hosts[0]', description: 'not a host name' }] })),
        any(PreconditionFailure, 'PreconditionFailure', { violations: [{ type: 'FILE', subject: 'gitea.yml', description: 'written by someone else' }] }),
        any(Help, 'Help', { links: [{ description: 'Traefik routers', url: 'https://doc.traefik.io/traefik/routing/routers/' }, { description: '', url: '' }] }),
        any(LocalizedMessage, 'LocalizedMessage', { locale: 'en-US', message: 'Remove the file first.' }),
        any(RetryInfo, 'RetryInfo', { retryDelay: { seconds: '2', nanos: 500_000_000 } }),
        any(ResourceInfo, 'ResourceInfo', { resourceType: 'router', resourceName: 'gitea', owner: '', description: '' }),
        any(DebugInfo, 'DebugInfo', { stackEntries: ['at secret.ts:1'], detail: 'internal' }),
      ],
    };
    expect(decodeCallFailure(failed(grpc.status.FAILED_PRECONDITION, 'not ready', status))).toEqual({
      code: 'FAILED_PRECONDITION',
      message: 'the router is not ready',
      reason: 'ROUTER_PENDING',
      domain: 'traefik',
      metadata: { router: 'gitea', hint: 'Wait for Traefik to reload.' },
      fieldViolations: [{ field: 'hosts[0]', description: 'not a host name' }],
      preconditionViolations: ['FILE gitea.yml: written by someone else'],
      hint: 'Wait for Traefik to reload.; Traefik routers: https://doc.traefik.io/traefik/routing/routers/; Remove the file first.',
      retryAfterMs: 2500,
      resource: 'router gitea',
    });
  });

  it('says a shard\'s hint once, though shard-kit sends it in two details', () => {
    const status = toGrpcStatus(new ShardError('NOT_FOUND', 'no container named "gitea"', { reason: 'CONTAINER_NOT_FOUND', hint: 'list_containers shows every container.' }));
    const err = Object.assign(new Error(status.details), { code: status.code, details: status.details, metadata: status.metadata });
    expect(decodeCallFailure(err).hint).toBe('list_containers shows every container.');
  });

  it('keeps the status when there are no details or they do not decode', () => {
    expect(decodeCallFailure(failed(grpc.status.UNAVAILABLE, 'connection refused'))).toEqual({ code: 'UNAVAILABLE', message: 'connection refused' });
    const err = failed(grpc.status.INTERNAL, 'broken');
    err.metadata.set('grpc-status-details-bin', Buffer.from([0x1a, 0xff, 0xff]));
    expect(decodeCallFailure(err)).toEqual({ code: 'INTERNAL', message: 'broken' });
  });
});
