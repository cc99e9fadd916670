import * as grpc from '@grpc/grpc-js';
import { BinaryWriter, WireType, identityCodec, readFields } from './wire.js';

const WATCH_PATH = '/grpc.health.v1.Health/Watch';

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
const STATUS_NAMES: readonly ServingStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function decodeStatus(bytes: Uint8Array): ServingStatus {
  let status: ServingStatus = 'UNKNOWN';
  readFields(bytes, (no, r) => {
    if (no !== 1) return;
    status = STATUS_NAMES[r.int32()] ?? 'UNKNOWN';
    return true;
  });
  return status;
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
  const request = new BinaryWriter().tag(1, WireType.LengthDelimited).string(service).finish();
  const call = client.makeServerStreamRequest(WATCH_PATH, identityCodec.serialize, identityCodec.deserialize, request, new grpc.Metadata(), {});
  let cancelled = false;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (bytes: Uint8Array) => onStatus(decodeStatus(bytes)));
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
