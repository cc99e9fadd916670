import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { readChannelCredentials } from '@homelab-mcp/pki/credentials.js';
import type { HealthcheckTls } from './config.js';
import type { HealthcheckOptions } from './healthcheck-command.js';

const require = createRequire(import.meta.url);

interface HealthClient extends grpc.Client {
  check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
}

/** A gRPC health client for grpc.health.v1 (the .proto ships with grpc-health-check). */
export function createHealthClient(address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): HealthClient {
  const protoFile = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto', 'health', 'v1', 'health.proto');
  const def = protoLoader.loadSync(protoFile, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials, o?: grpc.ChannelOptions) => HealthClient } } };
  };
  return new pkg.grpc.health.v1.Health(address, creds, options);
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
  const client = createHealthClient(opts.grpc, creds, opts.identity ? { 'grpc.ssl_target_name_override': opts.identity } : {});
  try {
    const status = await new Promise<string>((resolve, reject) =>
      client.check({ service: '' }, { deadline: Date.now() + 4000 }, (err, res) => (err ? reject(err) : resolve(res?.status ?? 'UNKNOWN'))),
    );
    process.stdout.write(`${status}\n`);
    return status === 'SERVING' ? 0 : 1;
  } catch (err) {
    process.stderr.write(`healthcheck: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    client.close();
  }
}
