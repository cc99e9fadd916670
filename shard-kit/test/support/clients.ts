import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { KitchenSinkServiceClient } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';

export interface ClientTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
  /** PEM strings instead of files (foreign or expired certificates made in the test). */
  certPem?: string;
  keyPem?: string;
}

/** mTLS channel credentials that trust the CA and present the given certificate (or none). */
export function clientCredentials(tls: ClientTls): grpc.ChannelCredentials {
  const cert = tls.certPem ? Buffer.from(tls.certPem) : tls.certFile ? readFileSync(tls.certFile) : null;
  const key = tls.keyPem ? Buffer.from(tls.keyPem) : tls.keyFile ? readFileSync(tls.keyFile) : null;
  return grpc.credentials.createSsl(readFileSync(tls.caFile), key, cert, { checkServerIdentity: () => undefined });
}

export function kitchenClient(port: number, creds: grpc.ChannelCredentials): KitchenSinkServiceClient {
  return new KitchenSinkServiceClient(`127.0.0.1:${port}`, creds);
}

/** Calls a unary method and resolves with the response, or rejects with the ServiceError. */
export function unary<Req, Res>(fn: (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req, deadlineMs = 5000): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
