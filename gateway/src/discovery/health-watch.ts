import * as grpc from '@grpc/grpc-js';
import {
  HealthService,
  healthCheckResponse_ServingStatusToJSON,
  type HealthCheckResponse,
  type HealthCheckResponse_ServingStatus,
} from '@homelab-mcp/proto/ts/grpc/health/v1/health.js';

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by name. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

function statusName(status: HealthCheckResponse_ServingStatus): ServingStatus {
  const name = healthCheckResponse_ServingStatusToJSON(status);
  // A status this protocol version does not know is no reason to list the shard's tools.
  return name === 'UNRECOGNIZED' ? 'UNKNOWN' : (name as ServingStatus);
}

export interface HealthWatch {
  /** Settles when the stream ends: rejects with the gRPC error, resolves when cancelled. */
  readonly done: Promise<void>;
  cancel(): void;
}

/**
 * Watches one service's health. `onStatus` runs for every status the shard
 * pushes; the promise settles only when the stream is gone.
 */
export function watchHealth(client: grpc.Client, service: string, onStatus: (status: ServingStatus) => void): HealthWatch {
  const { path, requestSerialize, responseDeserialize } = HealthService.watch;
  const call = client.makeServerStreamRequest(path, requestSerialize, responseDeserialize, { service }, new grpc.Metadata(), {});
  let cancelled = false;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (res: HealthCheckResponse) => onStatus(statusName(res.status)));
    call.on('error', (err: grpc.ServiceError) => (cancelled && err.code === grpc.status.CANCELLED ? resolve() : reject(err)));
    call.on('end', () => (cancelled ? resolve() : reject(Object.assign(new Error('health stream ended'), { code: grpc.status.UNAVAILABLE }))));
  });
  return {
    done,
    cancel: () => {
      cancelled = true;
      call.cancel();
    },
  };
}
