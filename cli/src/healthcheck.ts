import * as grpc from '@grpc/grpc-js';
import { readChannelCredentials } from '@homelab-mcp/pki/credentials.js';
import { identityHostName } from '@homelab-mcp/pki/identity.js';
import { HealthClient, healthCheckResponse_ServingStatusToJSON, type HealthCheckResponse } from '@homelab-mcp/proto/ts/grpc/health/v1/health.js';
import type { HealthcheckTls } from './config.js';
import type { HealthcheckOptions } from './healthcheck-command.js';

/** Asks a shard's gRPC health service for its overall status: SERVING, NOT_SERVING, ... */
export async function servingStatus(address: string, creds: grpc.ChannelCredentials, timeoutMs: number, options: grpc.ChannelOptions = {}): Promise<string> {
  const client = new HealthClient(address, creds, options);
  try {
    const res = await new Promise<HealthCheckResponse>((resolve, reject) =>
      client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    return healthCheckResponse_ServingStatusToJSON(res.status);
  } finally {
    client.close();
  }
}

/**
 * Container healthcheck: with --grpc, asks the shard's gRPC health service
 * (over mTLS with the container's own certificate from SHARD_TLS_*); with
 * --http, GETs the gateway's /healthz. Exit 0 when serving.
 */
export async function runHealthcheck(opts: HealthcheckOptions, tls: HealthcheckTls): Promise<number> {
  if (opts.http) {
    const res = await fetch(opts.http, { signal: AbortSignal.timeout(4000) }).catch(() => undefined);
    return res?.ok ? 0 : 1;
  }
  if (!opts.grpc) {
    process.stderr.write('healthcheck: pass --grpc <address> or --http <url>\n');
    return 2;
  }
  const { ca, cert, key } = tls;
  if (ca && cert && key && !opts.identity) {
    process.stderr.write('healthcheck: the shard serves mTLS (SHARD_TLS_* are set): pass --identity, the shard identity its certificate names (e.g. --identity shard-traefik)\n');
    return 2;
  }
  const creds = ca && cert && key && opts.identity
    ? readChannelCredentials({ caFile: ca, certFile: cert, keyFile: key }, opts.identity)
    : grpc.credentials.createInsecure();
  // SNI is the expected identity (a DNS name of the shard's certificate), never an IP address.
  try {
    const status = await servingStatus(opts.grpc, creds, 4000, opts.identity ? { 'grpc.ssl_target_name_override': identityHostName(opts.identity) } : {});
    process.stdout.write(`${status}\n`);
    return status === 'SERVING' ? 0 : 1;
  } catch (err) {
    process.stderr.write(`healthcheck: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
