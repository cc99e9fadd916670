import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { waitForReady } from '@homelab-mcp/component-kit';
import type { PkiFiles } from '@homelab-mcp/pki';
import { WatchmanServiceClient } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown;

/** A client with the gateway's identity, for a Watchman listening on 127.0.0.1:port. */
export async function connectWatchman(pki: PkiFiles, port: number): Promise<WatchmanServiceClient> {
  const gw = pki.identities.gateway!;
  return new WatchmanServiceClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined }));
}

/** The shard's TLS environment (listening on a free loopback port). */
export function shardTlsEnv(pki: PkiFiles): Record<string, string> {
  const id = pki.identities['shard-dozzle']!;
  return { SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: id.certFile, SHARD_TLS_KEY: id.keyFile };
}

export function unary<Req, Res>(client: WatchmanServiceClient, method: Unary<Req, Res>, req: Req, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r))));
}

/** Every message of a server stream, or its error. */
export function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (d: T) => out.push(d));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

export interface WatchmanProcess {
  port: number;
  /** Every warning the process emitted so far (MaxListenersExceededWarning, say). */
  warnings(): Promise<string[]>;
  close(): Promise<void>;
}

type ChildMessage = { type?: string; text?: string };

/**
 * The Watchman in a process of its own, started the way `homelab-mcp start`
 * does (its main.ts, ready when it says so): a test can watch it from outside
 * even while its event loop is busy, and hear its warnings.
 */
export async function startWatchmanProcess(env: Record<string, string>): Promise<WatchmanProcess> {
  const support = dirname(fileURLToPath(import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--import', join(support, 'report-warnings.ts'), join(support, '../../src/main.ts')], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const warnings: string[] = [];
  const synced: (() => void)[] = [];
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'warning' && m.text) warnings.push(m.text);
    if (m.type === 'synced') synced.shift()?.();
  });
  const address = (await waitForReady(child, 'the Watchman')).grpc ?? '';
  return {
    port: Number(address.split(':').at(-1)),
    warnings: async () => {
      await new Promise<void>((resolve) => {
        synced.push(resolve);
        child.send({ type: 'sync' });
      });
      return [...warnings];
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      // SIGKILL: a process whose event loop is stuck would never handle SIGTERM.
      child.kill('SIGKILL');
      await exited;
    },
  };
}
