import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { baseImagesUnavailable, ensureNodeImage, ensureSocketProxyImage } from '@homelab-mcp/homelab-sim/docker/base-images.js';
import { dockerUnavailable, freePort, startDockerEngine, type DockerEngine } from '@homelab-mcp/homelab-sim/docker/index.js';
import { interpolate } from '@homelab-mcp/cli/doctor-deploy.js';
import { readCompose, readDockerfile, root } from './support/deploy-files.js';

// The README's "Deploy with Docker Compose", as a new user follows it, on a real Docker
// engine: the images built with the real Dockerfile (BuildKit, offline but for npm) against
// stand-ins of the pinned base images, docker-compose.mcp.yaml with the demo's stand-ins
// brought up in a directory holding only the deployment files, an MCP client listing and
// calling tools through the published port, and docker-compose.traefik-node.yaml beside it
// as a second node whose Traefik shard the gateway reaches over mTLS. Then all torn down.
//
// The engine (Debian's dockerd) runs with its own data root and socket, overlay2, no
// iptables rules and no default bridge, in the host's network namespace: compose's
// networks are bridges from a private /16 no interface uses, published ports go through
// docker-proxy, and builds use the host's network (there is no default bridge to build on).

const run = promisify(execFile);
const COMPOSE = '/usr/bin/docker-compose';
const unavailable = dockerUnavailable() ?? baseImagesUnavailable() ?? (existsSync(COMPOSE) ? undefined : `${COMPOSE} is missing (apt-get install docker-compose)`);
const suite = unavailable ? describe.skip : describe;

// Base images, once assembled, are kept here between runs.
const cacheDir = process.env.HOMELAB_MCP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'homelab-mcp', 'images');
/** The CA this host's npm trusts for the registry (a proxy's, in some sandboxes), for the stand-in of the Node image. */
const registryCa = [process.env.NODE_EXTRA_CA_CERTS, process.env.npm_config_cafile].find((f): f is string => Boolean(f && existsSync(f)));

const BRIEF_TOOLS = ['get_routes', 'add_dynamic_config', 'check_ssl_status', 'tail_logs', 'search_logs', 'get_container_stats', 'sync_brand', 'create_application', 'manage_flows'];

let engine: DockerEngine;
let gatewayNode: string;
let traefikNode: string;
let dockerNode: string;
let client: Client;
let gatewayPort = 0;
let shardPort = 0;
let nasPort = 0;
const t0 = Date.now();
const timings: Record<string, number> = {};
const sizes: Record<string, number> = {};
const mark = (what: string, since: number) => (timings[what] = Math.round((Date.now() - since) / 1000));

const mcpFile = readCompose('docker-compose.mcp.yaml');
const nodeFile = readCompose('docker-compose.traefik-node.yaml');
const dockerNodeFile = readCompose('docker-compose.docker-node.yaml');
const demoFile = readCompose('deploy/docker-compose.demo.yaml');
const dockerfile = readDockerfile();
const imageTag = (image: string | undefined) => interpolate(image ?? '', {});

/** docker-compose (1.29, Debian's) in a deployment directory, against the test's engine. */
function compose(cwd: string, args: string[]) {
  return run(COMPOSE, args, { cwd, env: { ...process.env, DOCKER_HOST: `unix://${engine.socket}` }, maxBuffer: 16 * 1024 * 1024 });
}
const mcp = (args: string[]) => compose(gatewayNode, ['-f', 'docker-compose.mcp.yaml', '-f', 'deploy/docker-compose.demo.yaml', '-f', 'second-node.yaml', ...args]);
const node = (args: string[]) => compose(traefikNode, ['-f', 'docker-compose.traefik-node.yaml', ...args]);
const nas = (args: string[]) => compose(dockerNode, ['-f', 'docker-compose.docker-node.yaml', ...args]);

/** An address of this host that containers reach through their bridge (the "other node" the gateway dials). */
function hostAddress(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === 'lo' || name.startsWith('br-') || name.startsWith('docker') || name.startsWith('veth')) continue;
    const a = addrs?.find((x) => x.family === 'IPv4' && !x.internal);
    if (a) return a.address;
  }
  throw new Error('no non-loopback IPv4 address on this host for the second node');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult;

suite(`docker-compose up from the README, on a real Docker engine${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    let since = Date.now();
    engine = await startDockerEngine({ storageDriver: 'overlay2', networks: true }).catch(() => startDockerEngine({ networks: true }));
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(await readFile(join(root, 'Dockerfile'), 'utf8'))?.[1] ?? '';
    await ensureNodeImage(engine, cacheDir, { tag: nodeImage, ...(registryCa ? { caFile: registryCa } : {}) });
    await ensureSocketProxyImage(engine, cacheDir, { tag: imageTag(mcpFile.services['docker-socket-proxy']?.image) });
    mark('base images', since);

    // The images, with the real Dockerfile and BuildKit's built-in frontend, tagged as compose names them.
    since = Date.now();
    const tags = new Map<string, string>();
    for (const svc of [...Object.values(mcpFile.services), ...Object.values(demoFile.services), ...Object.values(dockerNodeFile.services)]) {
      const tag = imageTag(svc.image);
      const target = /\/([a-z-]+):/.exec(tag)?.[1];
      if (target && dockerfile[target]) tags.set(target, tag);
    }
    for (const [target, tag] of tags) {
      await engine.docker(['build', '--network', 'host', '--target', target, '-t', tag, root], undefined, { DOCKER_BUILDKIT: '1' });
      sizes[target] = Number((await engine.docker(['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
    }
    sizes.base = Number((await engine.docker(['image', 'inspect', '--format', '{{.Size}}', nodeImage])).trim());
    mark('build', since);

    // A directory with the deployment files only, and the README's steps in it.
    since = Date.now();
    gatewayNode = await mkdtemp(join(tmpdir(), 'homelab-compose-'));
    traefikNode = await mkdtemp(join(tmpdir(), 'homelab-traefik-node-'));
    await copyFile(join(root, 'docker-compose.mcp.yaml'), join(gatewayNode, 'docker-compose.mcp.yaml'));
    await cp(join(root, 'deploy'), join(gatewayNode, 'deploy'), { recursive: true, filter: (p) => !p.includes(`${join(root, 'deploy', 'test')}`) });
    await copyFile(join(root, 'docker-compose.traefik-node.yaml'), join(traefikNode, 'docker-compose.traefik-node.yaml'));
    gatewayPort = await freePort();
    shardPort = await freePort();
    // cp deploy/example.env .env && chmod 600 .env, then the edits the README asks for.
    await copyFile(join(gatewayNode, 'deploy', 'example.env'), join(gatewayNode, '.env'));
    await chmod(join(gatewayNode, '.env'), 0o600);
    await writeFile(join(gatewayNode, '.env'), [
      'TRAEFIK_DYNAMIC_DIR=./traefik/dynamic',
      `HOMELAB_MCP_GATEWAY_PORT=${gatewayPort}`,
      `GATEWAY_PUBLIC_URL=http://127.0.0.1:${gatewayPort}`,
      `SHARD_TRAEFIK_URL=traefik-host.test:${shardPort}`,
      `DOCKER_SOCKET=${engine.socket}`,
      // This test applies its plan itself, as a client under GATEWAY_APPROVAL=model does (the approval tests cover human).
      'GATEWAY_APPROVAL=model',
      '',
    ].join('\n'), { flag: 'a' });
    // mkdir -p secrets && printf '%s' '<token>' > secrets/authentik_token && chmod 600 secrets/authentik_token
    await mkdir(join(gatewayNode, 'secrets'));
    await writeFile(join(gatewayNode, 'secrets', 'authentik_token'), 'ci-authentik-token', { mode: 0o600 });
    // The demo's networks (docker network create traefik && docker network create authentik).
    await engine.docker(['network', 'create', 'traefik']);
    await engine.docker(['network', 'create', 'authentik']);
    // The second node's name, as the gateway node's DNS would resolve it.
    await writeFile(join(gatewayNode, 'second-node.yaml'), `services:\n  gateway:\n    extra_hosts: ["traefik-host.test:${hostAddress()}"]\n`);
    await mcp(['up', '-d', '--no-build']);

    // The Traefik node: a certificate for the name the gateway dials, issued where the CA is,
    // copied over with the CA certificate (never the CA key), as root leaves copies.
    await mcp(['run', '--rm', 'certs-init', 'dist/cli.mjs', 'certs', 'issue', 'shard-traefik', '--dns', 'traefik-host.test', '--dir', '/certs']);
    await mkdir(join(traefikNode, 'certs'));
    await copyFile(join(gatewayNode, 'certs', 'ca.pem'), join(traefikNode, 'certs', 'ca.pem'));
    await cp(join(gatewayNode, 'certs', 'shard-traefik'), join(traefikNode, 'certs', 'shard-traefik'), { recursive: true });
    await writeFile(join(traefikNode, '.env'), [
      'COMPOSE_PROJECT_NAME=traefik-node',
      `TRAEFIK_DYNAMIC_DIR=${join(gatewayNode, 'traefik', 'dynamic')}`,
      `SHARD_TRAEFIK_PORT=${shardPort}`,
      '',
    ].join('\n'), { mode: 0o600 });
    await node(['up', '-d', '--no-build']);
    mark('up', since);

    since = Date.now();
    // The README's way to the token; the gateway writes it as it starts.
    const token = await waitFor('the token', async () => (await mcp(['exec', '-T', 'gateway', 'cat', '/data/token'])).stdout.trim() || undefined);
    client = new Client({ name: 'compose-test', version: '1' });
    await waitFor('the gateway', async () => {
      const c = new Client({ name: 'compose-test', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${gatewayPort}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      client = c;
      return true;
    });
    mark('gateway answers', since);
  }, 600_000);

  afterAll(async () => {
    const since = Date.now();
    await client?.close().catch(() => undefined);
    if (engine) {
      if (traefikNode) await node(['down', '-v', '--remove-orphans']).catch(() => undefined);
      if (dockerNode) await nas(['down', '-v', '--remove-orphans']).catch(() => undefined);
      if (gatewayNode) await mcp(['down', '-v', '--remove-orphans']).catch(() => undefined);
      await engine.close();
    }
    for (const d of [gatewayNode, traefikNode, dockerNode]) if (d) await rm(d, { recursive: true, force: true });
    mark('down', since);
    if (engine) {
      const mb = (n: number | undefined) => `${((n ?? 0) / 1e6).toFixed(0)} MB`;
      const app = Object.entries(sizes).filter(([k]) => k !== 'base').map(([k, v]) => `${k} ${mb(v)} (+${mb(v - (sizes.base ?? 0))})`);
      process.stdout.write(`compose test: ${Math.round((Date.now() - t0) / 1000)} s in all (${Object.entries(timings).map(([k, v]) => `${k} ${v} s`).join(', ')}); images: base ${mb(sizes.base)}, ${app.join(', ')}\n`);
    }
  }, 180_000);

  it('made the directories and files the containers use theirs, without anyone running chown', async () => {
    const owner = async (p: string) => {
      const st = await stat(p);
      return `${st.uid}:${st.gid}${st.mode & 0o077 ? ' shared' : ''}`;
    };
    for (const p of ['certs', 'traefik/dynamic', 'certs/ca.pem']) expect({ p, owner: (await owner(join(gatewayNode, p))).split(' ')[0] }).toEqual({ p, owner: '1000:1000' });
    for (const p of ['certs/gateway/key.pem', 'certs/ca-key.pem', 'secrets/authentik_token']) expect({ p, owner: await owner(join(gatewayNode, p)) }).toEqual({ p, owner: '1000:1000' });
    // Copied to the second node by root: handed over there by its own owners-init.
    expect(await owner(join(traefikNode, 'certs', 'shard-traefik', 'key.pem'))).toBe('1000:1000');
    const { stdout } = await mcp(['ps']);
    for (const svc of ['owners-init', 'certs-init']) expect(stdout).toMatch(new RegExp(`${svc}_1 .* Exit 0`));
    for (const svc of ['gateway', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'docker-socket-proxy', 'homelab-sim']) expect(stdout).toMatch(new RegExp(`${svc}_1 .* Up`));
  });

  it('lists every shard\'s tools through the published port and calls them', async () => {
    const tools = await waitFor('all tools', async () => {
      const names = (await client.listTools()).tools.map((t) => t.name);
      return BRIEF_TOOLS.every((n) => names.includes(n)) ? names : undefined;
    });
    expect(tools).toEqual(expect.arrayContaining([...BRIEF_TOOLS, 'homelab_status', 'list_containers']));
    const routes = await call('get_routes', {});
    expect(routes.isError).toBeFalsy();
    // The Watchman reads the real engine through the socket proxy: the deployment's own containers.
    const containers = await call('list_containers', { all: true });
    expect(containers.isError).toBeFalsy();
    const names = ((containers.structuredContent as { containers: { name: string }[] }).containers).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['homelab-mcp_gateway_1', 'homelab-mcp_shard-dozzle_1', 'traefik-node_shard-traefik_1']));
    const logs = await call('tail_logs', { container: 'homelab-mcp_certs-init_1', lines: 20 });
    expect(JSON.stringify(logs.structuredContent)).toContain('created CA');
    const brands = await call('list_brands', {});
    expect(brands.isError).toBeFalsy();
  });

  it('reaches the Traefik shard of the other node over mTLS and writes its route through it', async () => {
    const status = await waitFor('the traefik shard of the other node', async () => {
      const s = (await call('homelab_status')).structuredContent as { shards: { name: string; state: string; address: string; identity: string }[] };
      const t = s.shards.find((x) => x.name === 'traefik');
      return t?.state === 'serving' ? t : undefined;
    });
    expect(status).toMatchObject({ address: `traefik-host.test:${shardPort}`, identity: 'shard-traefik' });
    const args = { name: 'ci-demo', hosts: ['ci-demo.home.lan'], service: { urls: ['http://10.0.0.5:8080'] } };
    const planned = await call('add_dynamic_config', args);
    const planId = (planned.structuredContent as { plan?: { id: string } }).plan?.id;
    expect(planId).toBeTruthy();
    const applied = await call('add_dynamic_config', { ...args, plan_id: planId });
    expect(applied.isError).toBeFalsy();
    const st = await stat(join(gatewayNode, 'traefik', 'dynamic', 'mcp-ci-demo.yml'));
    expect(`${st.uid}:${st.gid}`).toBe('1000:1000');
    expect(JSON.stringify((await call('get_routes', { host: 'ci-demo.home.lan' })).structuredContent)).toContain('ci-demo');
  });

  it('adds a Docker node with its compose file and one certs command, and lists its containers without restarting the gateway', async () => {
    const since = Date.now();
    const gatewayStarted = (await engine.docker(['inspect', '--format', '{{.State.StartedAt}}', 'homelab-mcp_gateway_1'])).trim();
    // Where the CA is: the instance's certificate. On the node: the CA certificate and that directory only.
    await mcp(['run', '--rm', 'certs-init', 'dist/cli.mjs', 'certs', 'issue', 'shard-dozzle/nas', '--dns', 'nas-host.test', '--dir', '/certs']);
    dockerNode = await mkdtemp(join(tmpdir(), 'homelab-docker-node-'));
    await copyFile(join(root, 'docker-compose.docker-node.yaml'), join(dockerNode, 'docker-compose.docker-node.yaml'));
    await cp(join(root, 'deploy', 'docker-socket-proxy'), join(dockerNode, 'deploy', 'docker-socket-proxy'), { recursive: true });
    await mkdir(join(dockerNode, 'certs'));
    await copyFile(join(gatewayNode, 'certs', 'ca.pem'), join(dockerNode, 'certs', 'ca.pem'));
    await cp(join(gatewayNode, 'certs', 'shard-dozzle.nas'), join(dockerNode, 'certs', 'shard-dozzle.nas'), { recursive: true });
    nasPort = await freePort();
    await writeFile(join(dockerNode, '.env'), ['COMPOSE_PROJECT_NAME=docker-node', 'DOCKER_NODE=nas', `SHARD_DOZZLE_PORT=${nasPort}`, `DOCKER_SOCKET=${engine.socket}`, ''].join('\n'), { mode: 0o600 });
    await nas(['up', '-d', '--no-build']);
    // The socket proxy publishes nothing; the Watchman its gRPC port only.
    const published = JSON.parse(await engine.docker(['inspect', '--format', '{{json .NetworkSettings.Ports}}', 'docker-node_docker-socket-proxy_1'])) as Record<string, unknown[] | null>;
    expect(Object.values(published).filter((v) => v && v.length > 0)).toEqual([]);

    // On the gateway node: the instance listed in deploy/nodes/nodes.yaml, written as an editor saves.
    const nodes = join(gatewayNode, 'deploy', 'nodes');
    await writeFile(join(nodes, 'nodes.yaml.tmp'), `shards:\n  - name: dozzle\n    instance: nas\n    url: ${hostAddress()}:${nasPort}\n`);
    await rename(join(nodes, 'nodes.yaml.tmp'), join(nodes, 'nodes.yaml'));
    const onNas = await waitFor('the containers of node nas', async () => {
      const res = await call('list_containers', { all: true });
      const items = (res.structuredContent as { containers: { name: string; node?: string }[] }).containers.filter((c) => c.node === 'nas');
      return items.length > 0 ? items.map((c) => c.name) : undefined;
    });
    expect(onNas).toEqual(expect.arrayContaining(['docker-node_shard-dozzle_1', 'homelab-mcp_gateway_1']));
    const status = (await call('homelab_status')).structuredContent as { shards: { name: string; state: string; identity: string }[] };
    expect(status.shards.find((s) => s.name === 'dozzle/nas')).toMatchObject({ state: 'serving', identity: 'shard-dozzle/nas' });
    const routed = await call('tail_logs', { container: 'docker-node_owners-init_1', node: 'nas', lines: 5 });
    expect(routed.isError).toBeFalsy();
    expect((await engine.docker(['inspect', '--format', '{{.State.StartedAt}}', 'homelab-mcp_gateway_1'])).trim()).toBe(gatewayStarted);
    mark('docker node', since);
  });

  it('passes every healthcheck of the compose files and of the images, run inside the containers', async () => {
    const containers: [string, string, string[]][] = [
      ...Object.entries(mcpFile.services).filter(([, s]) => s.healthcheck).map(([n, s]): [string, string, string[]] => [`homelab-mcp_${n}_1`, n, s.healthcheck?.test?.slice(1) ?? []]),
      ...Object.entries(nodeFile.services).filter(([, s]) => s.healthcheck).map(([n, s]): [string, string, string[]] => [`traefik-node_${n}_1`, n, s.healthcheck?.test?.slice(1) ?? []]),
    ];
    expect(containers.length).toBe(5);
    for (const [container, service, argv] of containers) {
      const out = await engine.docker(['exec', container, ...argv]);
      expect({ container, out }).toEqual({ container, out: service === 'gateway' ? '' : 'SERVING\n' });
      // The image's own HEALTHCHECK, as built from the Dockerfile, passes in the same container.
      const own = JSON.parse(await engine.docker(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', imageTag(mcpFile.services[service]?.image)])) as string[];
      expect(own).toEqual(['CMD', ...(dockerfile[service]?.healthcheck ?? [])]);
      expect({ container, out: await engine.docker(['exec', container, ...own.slice(1)]) }).toEqual({ container, out: service === 'gateway' ? '' : 'SERVING\n' });
    }
  });

  it('gives the Watchman a socket proxy that refuses a container\'s files', async () => {
    const probe = (path: string) => engine.docker(['exec', 'homelab-mcp_shard-dozzle_1', 'node', '-e', `fetch('http://docker-socket-proxy:2375${path}').then((r) => console.log(r.status))`]);
    expect((await probe('/containers/json')).trim()).toBe('200');
    expect((await probe('/containers/homelab-mcp_gateway_1/archive?path=/data/token')).trim()).toBe('403');
    expect((await probe('/containers/homelab-mcp_gateway_1/export')).trim()).toBe('403');
  });

  it('leaves doctor nothing to report about the deployment', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'cli', 'bin', 'homelab-mcp.js'), 'doctor'], { cwd: gatewayNode, env: { ...process.env, DOCKER_HOST: `unix://${engine.socket}` } }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
    expect(stdout.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(stdout).toMatch(/ok {4}deploy +gateway \/data +volume homelab-mcp_gateway-data writable by 1000:1000/);
    // The Docker node listed in deploy/nodes/nodes.yaml, checked on its own.
    expect(stdout).toMatch(/ok +dozzle\/nas +tls/);
  });
});
