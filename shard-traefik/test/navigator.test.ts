import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ensurePki } from '@homelab-mcp/pki';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { startTraefikSim, type TraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import {
  AddDynamicConfigRequest,
  CheckSslStatusRequest,
  GetRoutesRequest,
  NavigatorServiceClient,
  ObjectStatus,
  Protocol,
  RemoveDynamicConfigRequest,
} from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { parseConfig, startNavigator } from '../src/index.js';

let dir: string;
let sim: TraefikSim;
let shard: RunningShard;
let client: NavigatorServiceClient;

function call<Req, Res>(method: (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req, deadlineMs = 20_000): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r))));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'navigator-'));
  const pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-traefik']);
  sim = await startTraefikSim({ dynamicDir: join(dir, 'dynamic'), throttleMs: 100 });
  const id = pki.identities['shard-traefik']!;
  const config = parseConfig({
    SHARD_LISTEN: '127.0.0.1:0',
    SHARD_TLS_CA: pki.caFile,
    SHARD_TLS_CERT: id.certFile,
    SHARD_TLS_KEY: id.keyFile,
    TRAEFIK_API: sim.apiUrl,
    TRAEFIK_DYNAMIC_DIR: sim.dynamicDir,
    TRAEFIK_WEBSECURE_ADDRESS: sim.websecureAddress,
    TRAEFIK_CONFIRM_TIMEOUT_MS: '5000',
  });
  shard = await startNavigator(config, pino({ level: 'silent' }));
  const gw = pki.identities.gateway!;
  client = new NavigatorServiceClient(`127.0.0.1:${shard.port}`, grpc.credentials.createSsl(await readFile(pki.caFile), await readFile(gw.keyFile), await readFile(gw.certFile), { checkServerIdentity: () => undefined }));
});

afterAll(async () => {
  client?.close();
  await shard?.close(0);
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

const until = async (what: string, check: () => Promise<boolean>) => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

const pinchflat = (extra: Partial<AddDynamicConfigRequest> = {}) =>
  AddDynamicConfigRequest.fromPartial({ name: 'media', hosts: ['media.home.lan'], tls: { certResolver: 'letsencrypt' }, service: { urls: ['http://10.0.0.5:8945'] }, ...extra });

describe('get_routes', () => {
  it('answers "is my Gitea route OK?" with rule, hosts, TLS, service servers and status', async () => {
    const res = await call(client.getRoutes, GetRoutesRequest.fromPartial({ host: 'gitea.home.lan' }));
    expect(res.routes).toHaveLength(1);
    expect(res.routes[0]).toMatchObject({
      name: 'gitea@docker',
      hosts: ['gitea.home.lan'],
      service: 'gitea@docker',
      servers: [{ url: 'http://172.20.0.5:3000', status: 'UP' }],
      status: ObjectStatus.OBJECT_STATUS_ENABLED,
      tls: { certResolver: 'letsencrypt' },
    });
  });

  it('reads every protocol from Traefik in one request per call, over a kept-alive connection', async () => {
    const before = sim.apiTraffic();
    const res = await call(client.getRoutes, GetRoutesRequest.fromPartial({}));
    const after = sim.apiTraffic();
    expect(after.requests - before.requests).toBe(1);
    expect(res.total).toBe(res.routes.length);
    expect(res.routes.every((r) => r.protocol === Protocol.PROTOCOL_HTTP)).toBe(true);
    expect(res.routes.find((r) => r.name === 'gitea@docker')).toMatchObject({ provider: 'docker', service: 'gitea@docker', servers: [{ url: 'http://172.20.0.5:3000' }] });
    await call(client.getRoutes, GetRoutesRequest.fromPartial({ host: 'gitea.home.lan' }));
    expect(sim.apiTraffic().connections).toBe(after.connections);
  });

  it('keeps priorities beyond 2^53 exact and reports server health changes', async () => {
    const res = await call(client.getRoutes, GetRoutesRequest.fromPartial({ provider: 'internal' }));
    expect(res.routes.find((r) => r.name === 'api@internal')?.priority).toBe('9223372036854775806');
    sim.setServerHealth('http://172.20.0.5:3000', 'DOWN');
    const down = await call(client.getRoutes, GetRoutesRequest.fromPartial({ service: 'gitea' }));
    expect(down.routes[0]?.servers[0]?.status).toBe('DOWN');
    sim.setServerHealth('http://172.20.0.5:3000', 'UP');
  });
  it('reads hosts out of an 800 KB rule with no ")" in linear time, answering within the deadline', async () => {
    // Before: /Host\(([^)]*)\)/ rescanned the rest of the rule from every "Host(" (quadratic: tens of seconds).
    const rule = 'Host(`a`'.repeat(100_000);
    const file = join(sim.dynamicDir, 'hand-long-rule.yml');
    await writeFile(file, yaml.dump({ http: { routers: { long: { rule, service: 'long' } }, services: { long: { loadBalancer: { servers: [{ url: 'http://10.0.0.7' }] } } } } }, { lineWidth: -1 }));
    try {
      await until('Traefik to load the long rule', async () => (await fetch(`${sim.apiUrl}/http/routers/long@file`)).ok);
      const [res, list] = await Promise.all([
        call(client.getRoutes, GetRoutesRequest.fromPartial({ name: 'long' }), 10_000),
        call(client.listDynamicConfigs, {}, 10_000),
      ]);
      expect(res.routes[0]).toMatchObject({ name: 'long@file', hosts: [] });
      expect(list.writable).toBe(true);
    } finally {
      await rm(file);
    }
  });
});

describe('add_dynamic_config', () => {
  it('plans, applies with the plan id, and the route appears in get_routes as name@file', async () => {
    const planned = await call(client.addDynamicConfig, pinchflat());
    expect(planned.applied).toBe(false);
    expect(planned.plan?.diff).toContain('+    media:');
    expect(planned.plan?.diff).toContain('Host(`media.home.lan`)');
    expect(await readdir(sim.dynamicDir)).not.toContain('mcp-media.yml');

    const applied = await call(client.addDynamicConfig, pinchflat({ planId: planned.plan!.id }));
    expect(applied.applied).toBe(true);
    const routes = await call(client.getRoutes, GetRoutesRequest.fromPartial({ host: 'media.home.lan' }));
    expect(routes.routes[0]).toMatchObject({ name: 'media@file', status: ObjectStatus.OBJECT_STATUS_ENABLED, servers: [{ url: 'http://10.0.0.5:8945' }] });
    const text = await readFile(join(sim.dynamicDir, 'mcp-media.yml'), 'utf8');
    expect(text.startsWith('# managed-by: homelab-mcp shard-traefik')).toBe(true);

    await expect(call(client.addDynamicConfig, pinchflat({ planId: planned.plan!.id }))).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringContaining('already applied') });
  });

  it('refuses a plan applied with other arguments', async () => {
    const planned = await call(client.addDynamicConfig, pinchflat({ name: 'other' }));
    await expect(call(client.addDynamicConfig, pinchflat({ name: 'other', hosts: ['evil.home.lan'], planId: planned.plan!.id }))).rejects.toMatchObject({ details: expect.stringContaining('different arguments') });
  });

  it('rolls back a route Traefik disables and says why', async () => {
    const req = pinchflat({ name: 'broken', hosts: ['broken.home.lan'], middlewares: ['missing-auth@file'] });
    const planned = await call(client.addDynamicConfig, req);
    const err = await call(client.addDynamicConfig, { ...req, planId: planned.plan!.id }).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect((err as grpc.ServiceError).details).toContain('middleware "missing-auth@file" does not exist');
    expect(await readdir(sim.dynamicDir)).not.toContain('mcp-broken.yml');
  });

  it('rolls back when another file stops Traefik from loading the directory', async () => {
    await writeFile(join(sim.dynamicDir, 'hand-written.yml'), 'http:\n  routers:\n    x:\n      rule: Host(`x.lan`)\n      service: x\n      bogus: true\n');
    try {
      const req = pinchflat({ name: 'blocked', hosts: ['blocked.home.lan'] });
      const planned = await call(client.addDynamicConfig, req);
      await expect(call(client.addDynamicConfig, { ...req, planId: planned.plan!.id })).rejects.toMatchObject({ details: expect.stringContaining('did not load blocked@file') });
      expect(await readdir(sim.dynamicDir)).not.toContain('mcp-blocked.yml');
    } finally {
      await rm(join(sim.dynamicDir, 'hand-written.yml'));
    }
  });

  it('refuses template actions, @internal middlewares and bad hosts with the field named', async () => {
    const err = await call(client.addDynamicConfig, pinchflat({ name: 'evil', hosts: [], rule: 'Host(`{{ env "SECRET" }}`)' })).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((err as grpc.ServiceError).details).toContain('{{');
    await expect(call(client.addDynamicConfig, pinchflat({ name: 'evil', middlewares: ['api@internal'] }))).rejects.toMatchObject({ details: expect.stringContaining('middlewares[0]') });
    await expect(call(client.addDynamicConfig, pinchflat({ name: 'evil', hosts: ['not a host'] }))).rejects.toMatchObject({ details: expect.stringContaining('hosts[0]') });
    await expect(call(client.addDynamicConfig, pinchflat({ name: 'evil', hosts: [], rule: `Host(\`${'a'.repeat(1100)}\`)` }))).rejects.toMatchObject({ details: expect.stringContaining('rule: is 1108 characters long; at most 1024') });
  });

  it('never touches a file it did not write', async () => {
    await writeFile(join(sim.dynamicDir, 'mcp-mine.yml'), 'http: {}\n');
    await expect(call(client.addDynamicConfig, pinchflat({ name: 'mine', hosts: ['mine.home.lan'] }))).rejects.toMatchObject({ details: expect.stringContaining('not written by homelab-mcp') });
    await rm(join(sim.dynamicDir, 'mcp-mine.yml'));
  });

  it('lists and removes its own files (plan first)', async () => {
    const list = await call(client.listDynamicConfigs, {});
    expect(list.writable).toBe(true);
    expect(list.files.map((f) => f.name)).toContain('media');
    const planned = await call(client.removeDynamicConfig, RemoveDynamicConfigRequest.fromPartial({ name: 'media' }));
    expect(planned.plan?.diff).toContain('-    media:');
    const removed = await call(client.removeDynamicConfig, RemoveDynamicConfigRequest.fromPartial({ name: 'media', planId: planned.plan!.id }));
    expect(removed.applied).toBe(true);
    const routes = await call(client.getRoutes, GetRoutesRequest.fromPartial({ host: 'media.home.lan' }));
    expect(routes.routes).toHaveLength(0);
  });
});

describe('a hostile dynamic directory', () => {
  it('plans past link cycles, links out of the directory, FIFOs and huge files, names what it skipped, and keeps answering', async () => {
    // Before: readdir(dir, { recursive: true }) followed "loop" and "up" forever (100% CPU, 1 GB, never answered).
    const d = sim.dynamicDir;
    const outside = await mkdtemp(join(tmpdir(), 'outside-'));
    await writeFile(join(outside, 'secret.yml'), 'http:\n  routers:\n    cycle:\n      rule: Host(`x.lan`)\n      service: x\n');
    const deep = join(d, 'deep', ...'12345678'.split(''));
    const made = ['loop', 'up', 'outside.yml', 'pipe.yml', 'huge.yml', 'deep', 'store', 'linked.yml', 'mcp-fifo.yml', 'mcp-zero.yml'];
    await symlink('.', join(d, 'loop'));
    await symlink('..', join(d, 'up'));
    await symlink(join(outside, 'secret.yml'), join(d, 'outside.yml'));
    execFileSync('mkfifo', [join(d, 'pipe.yml'), join(d, 'mcp-fifo.yml')]);
    await writeFile(join(d, 'huge.yml'), `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'a.yml'), 'http:\n  routers:\n    cycle:\n      rule: Host(`x.lan`)\n      service: x\n');
    // A link to a file inside the directory (as a Kubernetes ConfigMap mounts them) is read like Traefik reads it.
    await mkdir(join(d, 'store'));
    await writeFile(join(d, 'store', 'real.txt'), 'http:\n  routers:\n    taken:\n      rule: Host(`taken.lan`)\n      service: taken\n');
    await symlink('store/real.txt', join(d, 'linked.yml'));
    await symlink('/dev/zero', join(d, 'mcp-zero.yml'));
    try {
      const [planned, routes, list] = await Promise.all([
        call(client.addDynamicConfig, pinchflat({ name: 'cycle', hosts: ['cycle.home.lan'] }), 10_000),
        call(client.getRoutes, GetRoutesRequest.fromPartial({ host: 'gitea.home.lan' }), 10_000),
        call(client.listDynamicConfigs, {}, 10_000),
      ]);
      // "cycle" is defined only outside the directory and below the depth limit: neither read, so no clash.
      expect(planned.plan?.id).toBeTruthy();
      expect(Object.fromEntries(planned.skipped.map((e) => [e.path, e.reason]))).toEqual({
        loop: 'a symbolic link to a directory: not followed (Traefik does not follow it either)',
        up: 'a symbolic link to a directory outside the dynamic directory: not followed (Traefik does not follow it either)',
        'outside.yml': 'a symbolic link to a file outside the dynamic directory: not read',
        'pipe.yml': 'a FIFO (reading it could block forever)',
        'mcp-fifo.yml': 'a FIFO (reading it could block forever)',
        'mcp-zero.yml': 'a symbolic link to a file outside the dynamic directory: not read',
        'huge.yml': `${2 * 1024 * 1024 + 3} bytes, over the 1048576-byte limit for one file`,
        'deep/1/2/3/4/5/6/7/8': 'deeper than 8 directory levels: not looked into',
      });
      expect(planned.message).toContain('Not checked for names other files define: ');
      expect(planned.message).toContain('loop (a symbolic link to a directory: not followed');
      expect(routes.routes).toHaveLength(1);
      expect(list.files.map((f) => f.file)).not.toContain('mcp-fifo.yml');

      await expect(call(client.addDynamicConfig, pinchflat({ name: 'taken', hosts: ['taken.home.lan'] }))).rejects.toMatchObject({ code: grpc.status.ALREADY_EXISTS });
      // Its own names: a FIFO or a link there is refused, never opened for reading.
      await expect(call(client.addDynamicConfig, pinchflat({ name: 'fifo', hosts: ['fifo.home.lan'] }), 10_000)).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringContaining('mcp-fifo.yml is a FIFO') });
      await expect(call(client.addDynamicConfig, pinchflat({ name: 'zero', hosts: ['zero.home.lan'] }), 10_000)).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringContaining('mcp-zero.yml is a symbolic link') });
    } finally {
      await Promise.all(made.map((m) => rm(join(d, m), { recursive: true, force: true })));
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('check_ssl_status', () => {
  it('reports valid, expired, wrong-host and Traefik default certificates as such', async () => {
    const res = await call(client.checkSslStatus, CheckSslStatusRequest.fromPartial({ hosts: ['gitea.home.lan', 'expired.home.lan', 'wrong.home.lan', 'unknown.home.lan'] }));
    const [valid, expired, wrong, fallback] = res.reports;
    expect(valid).toMatchObject({ host: 'gitea.home.lan', ok: true, nameMatches: true, expired: false, traefikDefault: false, expectedRouter: 'gitea@docker', expectedCertResolver: 'letsencrypt' });
    expect(valid?.daysLeft).toBeGreaterThan(300);
    expect(expired).toMatchObject({ ok: false, expired: true });
    expect(expired?.problem).toContain('expired');
    expect(wrong).toMatchObject({ ok: false, nameMatches: false, expired: false });
    expect(wrong?.problem).toContain('not wrong.home.lan');
    expect(fallback).toMatchObject({ ok: false, traefikDefault: true, selfSigned: true });
  });
});
