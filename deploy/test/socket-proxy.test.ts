import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { dockerUnavailable, startDockerEngine, startSocketProxy, type DockerEngine, type SocketProxy } from '@homelab-mcp/homelab-sim/docker/index.js';
import { GetContainerStatsRequest, ListContainersRequest, SearchLogsRequest, TailLogsRequest, WatchmanServiceClient, type SearchLogsResponse, type TailLogsResponse } from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import { parseConfig, startWatchman } from '@homelab-mcp/shard-dozzle';

// deploy/docker-socket-proxy/haproxy.cfg in front of a real Docker engine: the Watchman's
// four tools work through it, and nothing else gets through; the upstream configuration
// (CONTAINERS=1) beside it shows what that closes.

const unavailable = dockerUnavailable();
const suite = unavailable ? describe.skip : describe;

let dir: string;
let engine: DockerEngine;
let proxy: SocketProxy;
let upstream: SocketProxy;
let shard: RunningShard;
let client: WatchmanServiceClient;
let id = '';
const deadline = () => ({ deadline: Date.now() + 30_000 });

function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (d: T) => out.push(d));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

/** The proxy's answer to a request sent with this exact path (fetch would resolve "..", as a client that wants through would not). */
function status(base: string, path: string, method = 'GET'): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

suite(`the socket proxy the deployment ships${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'socket-proxy-'));
    engine = await startDockerEngine();
    id = await engine.runContainer('vault', 'echo "hunter2" > /tmp/secret.txt; for i in $(seq 1 3); do echo "vault line $i"; done; sleep 3600');
    for (let i = 0; i < 100 && !(await engine.docker(['logs', 'vault'])).includes('vault line 3'); i++) await new Promise((r) => setTimeout(r, 100));
    proxy = await startSocketProxy(engine.socket);
    upstream = await startSocketProxy(engine.socket, { config: 'upstream', env: { CONTAINERS: '1', POST: '0' } });
    const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    const sd = pki.identities['shard-dozzle']!;
    shard = await startWatchman(parseConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: pki.caFile, SHARD_TLS_CERT: sd.certFile, SHARD_TLS_KEY: sd.keyFile, DOCKER_HOST: proxy.dockerHost }), pino({ level: 'silent' }));
    const gw = pki.identities.gateway!;
    client = new WatchmanServiceClient(`127.0.0.1:${shard.port}`, grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined }));
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await shard?.close(0);
    await proxy?.close();
    await upstream?.close();
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('lets the Watchman list, tail, search and measure containers', async () => {
    const list = await new Promise<{ containers: { name: string }[] }>((resolve, reject) => client.listContainers(ListContainersRequest.fromPartial({ all: true }), new grpc.Metadata(), deadline(), (e, r) => (e ? reject(e) : resolve(r))));
    expect(list.containers.map((c) => c.name)).toEqual(['vault']);
    const [tail] = (await collect(client.tailLogs(TailLogsRequest.fromPartial({ container: 'vault', lines: 10 }), new grpc.Metadata(), deadline()))) as TailLogsResponse[];
    expect(tail?.lines.map((l) => l.text)).toEqual(['vault line 1', 'vault line 2', 'vault line 3']);
    const found = (await collect(client.searchLogs(SearchLogsRequest.fromPartial({ query: 'line 2' }), new grpc.Metadata(), deadline()))) as SearchLogsResponse[];
    expect(found.flatMap((m) => m.matches).map((m) => m.line?.text)).toEqual(['vault line 2']);
    const stats = await new Promise<{ stats: { pids: number }[] }>((resolve, reject) => client.getContainerStats(GetContainerStatsRequest.fromPartial({ container: 'vault' }), new grpc.Metadata(), deadline(), (e, r) => (e ? reject(e) : resolve(r))));
    expect(stats.stats[0]?.pids).toBeGreaterThan(0);
  });

  it('answers exactly the requests the Watchman makes, with or without an API version', async () => {
    for (const [path, method] of [['/_ping', 'GET'], ['/_ping', 'HEAD'], ['/containers/json?all=1', 'GET'], [`/containers/${id}/json`, 'GET'], ['/containers/vault/json', 'GET'], [`/v1.41/containers/${id}/logs?stdout=1&tail=1`, 'GET'], [`/containers/${id}/stats?stream=false`, 'GET']] as const) {
      expect({ path, method, status: await status(proxy.url, path, method) }).toEqual({ path, method, status: 200 });
    }
  });

  it('refuses to hand out files of a container (archive, export), which the upstream configuration allows', async () => {
    const archive = `/containers/${id}/archive?path=/tmp/secret.txt`;
    const leaked = await fetch(`${upstream.url}${archive}`);
    expect(leaked.status).toBe(200);
    expect(Buffer.from(await leaked.arrayBuffer()).toString('latin1')).toContain('hunter2');
    for (const path of [archive, `/v1.41${archive}`, `/containers/vault/export`, `/containers/${id}/export`, `/containers/${id}%2Farchive?path=/tmp/secret.txt`, `/containers/${id}/archive/../json`]) {
      for (const method of ['GET', 'HEAD']) expect({ path, method, status: await status(proxy.url, path, method) }).toEqual({ path, method, status: 403 });
    }
    const body = await (await fetch(`${proxy.url}${archive}`)).text();
    expect(body).toContain('Request forbidden by administrative rules.');
    expect(body).not.toContain('hunter2');
  });

  it('refuses attach, exec, every write and every other part of the API', async () => {
    const refused: [string, string][] = [
      [`/containers/${id}/attach?stream=1&stdout=1`, 'POST'], [`/containers/${id}/attach/ws?stream=1`, 'GET'],
      [`/containers/${id}/exec`, 'POST'], [`/containers/${id}/stop`, 'POST'], [`/containers/${id}/kill`, 'POST'], [`/containers/${id}`, 'DELETE'],
      ['/containers/create', 'POST'], [`/containers/${id}/update`, 'POST'], [`/containers/${id}/archive?path=/tmp`, 'PUT'],
      [`/containers/${id}/top`, 'GET'], [`/containers/${id}/changes`, 'GET'], ['/containers/../images/json', 'GET'], ['/containers/json/../../info', 'GET'],
      ['/images/json', 'GET'], ['/info', 'GET'], ['/version', 'GET'], ['/events', 'GET'], ['/volumes', 'GET'], ['/networks', 'GET'], ['/secrets', 'GET'],
      ['/system/df', 'GET'], ['/build', 'POST'], ['/_ping', 'POST'], ['//containers/json', 'GET'],
    ];
    for (const [path, method] of refused) expect({ path, method, status: await status(proxy.url, path, method) }).toEqual({ path, method, status: 403 });
    expect((await engine.docker(['inspect', '-f', '{{.State.Running}}', 'vault'])).trim()).toBe('true');
  });
});
