import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import { buildComponents } from '@homelab-mcp/cli/build.js';
import { interpolate } from '@homelab-mcp/cli/doctor-deploy.js';
import { IMAGE_BUNDLES, writeRuntimeTrees, type RuntimeTree } from '@homelab-mcp/cli/runtime-tree.js';
import { startComponent, stopComponents, type RunningComponent } from '@homelab-mcp/cli/supervisor.js';
import { portOf, readCompose, readDockerfile, root, type ComposeService } from './support/deploy-files.js';

// The images' contents without Docker: each image's runtime tree (what its Dockerfile target
// copies into /app) runs on its own, and every healthcheck command the Dockerfile and the
// compose files give passes against the component it checks.

const run = promisify(execFile);
const logger = pino({ level: 'silent' });

let dir: string;
let trees: Record<string, RuntimeTree>;
const running: RunningComponent[] = [];
let dozzle: DozzleSim;
/** Where each component listens: image name -> port. */
const ports: Record<string, number> = {};
/** The environment each compose service gets, with its container paths mapped into the test directory. */
const envs: Record<string, Record<string, string>> = {};

const mcp = readCompose('docker-compose.mcp.yaml');
const node = readCompose('docker-compose.traefik-node.yaml');
const demo = readCompose('deploy/docker-compose.demo.yaml');
const dockerfile = readDockerfile();

const treeOf = (image: string) => join(dir, 'runtime', image);
const imageOf = (svc: ComposeService) => /\/([a-z-]+):[^/]*$/.exec(svc.image ?? '')?.[1] ?? '';

/** A compose service's environment as the container sees it: defaults filled in, /certs, /dynamic, /data and /run/secrets under the test directory, /etc/homelab-mcp the checkout's deploy/nodes. */
function containerEnv(svc: ComposeService, overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.environment ?? {})) {
    env[k] = interpolate(String(v), {})
      .replace(/^\/(certs|dynamic|data|run\/secrets)(?=\/|$)/, (_m, p: string) => join(dir, p.replace('run/', '')))
      // The gateway's nodes directory, mounted from the checkout as compose does.
      .replace(/^\/etc\/homelab-mcp(?=\/|$)/, join(root, 'deploy', 'nodes'));
  }
  return { ...env, LOG_LEVEL: 'warn', GATEWAY_LOG_LEVEL: 'warn', HOMELAB_SIM_LOG_LEVEL: 'warn', ...overrides };
}

async function start(image: string, svc: ComposeService, overrides: Record<string, string>): Promise<RunningComponent> {
  const env = containerEnv(svc, overrides);
  envs[image] = env;
  const c = await startComponent({ name: image, entry: join(treeOf(image), 'dist', `${image}.mjs`), env, readyTimeoutMs: 60_000 }, logger);
  running.push(c);
  return c;
}

/** Runs a healthcheck command (exec form, without "CMD") as the container would: in /app, the image's tree here. */
function healthcheck(image: string, argv: string[], env: Record<string, string>) {
  expect(argv[0]).toBe('node');
  return run(process.execPath, argv.slice(1), { cwd: treeOf(image), env: { PATH: process.env.PATH ?? '', ...env } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
  );
}

/** The command with its one address pointed at where the component listens here (the port it names is checked first). */
function retarget(argv: string[], listenPort: number, actual: number): string[] {
  const i = argv.findIndex((a) => /^(http:\/\/)?127\.0\.0\.1:\d+/.test(a));
  expect(i).toBeGreaterThan(0);
  expect(portOf(argv[i] ?? '')).toBe(listenPort);
  return argv.map((a, j) => (j === i ? a.replace(/:\d+/, `:${actual}`) : a));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homelab-images-'));
  const { bundles, metafile } = await buildComponents();
  trees = await writeRuntimeTrees(metafile, bundles, join(dir, 'runtime'));
  await mkdir(join(dir, 'dynamic'));
  await mkdir(join(dir, 'secrets'));
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'secrets', 'authentik_token'), 'images-test-token', { mode: 0o600 });

  // certs-init, as compose runs it.
  const certsEnv = containerEnv(mcp.services['certs-init'] ?? {}, {});
  await run(process.execPath, (dockerfile['certs-init']?.cmd ?? []), { cwd: treeOf('certs-init'), env: { PATH: process.env.PATH ?? '', ...certsEnv } });

  // The demo's stand-ins, from their image's tree, on free ports; Dozzle's in-process (the demo reads the real Docker engine).
  const sim = await start('homelab-sim', demo.services['homelab-sim'] ?? {}, { HOMELAB_SIM_HOST: '127.0.0.1', HOMELAB_SIM_TRAEFIK_PORT: '0', HOMELAB_SIM_AUTHENTIK_PORT: '0' });
  dozzle = await startDozzleSim();

  const shards: [string, Record<string, string>][] = [
    ['shard-traefik', { TRAEFIK_API: sim.endpoints.traefikApi ?? '' }],
    ['shard-dozzle', { DOZZLE_API: dozzle.url, DOCKER_HOST: '' }],
    ['shard-authentik', { AUTHENTIK_URL: sim.endpoints.authentikUrl ?? '' }],
  ];
  for (const [name, upstream] of shards) {
    const c = await start(name, mcp.services[name] ?? {}, { SHARD_LISTEN: '127.0.0.1:0', ...upstream });
    ports[name] = portOf(c.endpoints.grpc ?? '');
  }
  const gw = await start('gateway', mcp.services.gateway ?? {}, {
    GATEWAY_LISTEN: '127.0.0.1:0',
    GATEWAY_PUBLIC_URL: '',
    SHARD_TRAEFIK_URL: `127.0.0.1:${ports['shard-traefik']}`,
    SHARD_DOZZLE_URL: `127.0.0.1:${ports['shard-dozzle']}`,
    SHARD_AUTHENTIK_URL: `127.0.0.1:${ports['shard-authentik']}`,
  });
  ports.gateway = portOf(gw.endpoints.mcp ?? '');
}, 180_000);

afterAll(async () => {
  await stopComponents(running);
  await dozzle?.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('each image carries its own bundles and only what they import', () => {
  it('has a tree per Dockerfile target that copies one', () => {
    const copied = Object.values(dockerfile).flatMap((t) => [.../COPY --from=build \/runtime\/([a-z-]+)\//.exec(t.text)?.slice(1) ?? []]);
    expect(copied.sort()).toEqual(Object.keys(IMAGE_BUNDLES).sort());
  });

  it('puts exactly its bundles (with source maps) in dist/', async () => {
    for (const [image, bundles] of Object.entries(IMAGE_BUNDLES)) {
      const files = (await readdir(join(treeOf(image), 'dist'))).sort();
      expect({ image, files }).toEqual({ image, files: bundles.flatMap((b) => [`${b}.mjs`, `${b}.mjs.map`]).sort() });
    }
  });

  it('leaves out the build tools, the TypeScript loader, and what other images need', () => {
    const has = (image: string, pkg: string) => trees[image]?.packages.includes(`node_modules/${pkg}`) ?? false;
    for (const image of Object.keys(IMAGE_BUNDLES)) {
      for (const pkg of ['tsx', 'esbuild', 'typescript', 'jest', '@goauthentik/api', 'ssh2', 'dockerode']) expect({ image, pkg, has: has(image, pkg) }).toEqual({ image, pkg, has: false });
    }
    for (const image of ['shard-traefik', 'shard-dozzle', 'shard-authentik']) expect({ image, sdk: has(image, '@modelcontextprotocol/sdk') }).toEqual({ image, sdk: false });
    expect(has('gateway', '@modelcontextprotocol/sdk')).toBe(true);
    expect(has('shard-traefik', 'diff')).toBe(true);
    expect(has('shard-dozzle', 'diff')).toBe(false);
    expect(existsSync(join(treeOf('shard-traefik'), 'node_modules', '@homelab-mcp', 'proto', 'gen', 'descriptor.binpb'))).toBe(true);
    expect(existsSync(join(treeOf('shard-traefik'), 'node_modules', '@homelab-mcp', 'proto', 'gen', 'ts'))).toBe(false);
  });

  it('runs each component from its tree alone: certificates made, stand-ins, shards and gateway serving', () => {
    expect(existsSync(join(dir, 'certs', 'gateway', 'key.pem'))).toBe(true);
    expect(Object.keys(ports).sort()).toEqual(['gateway', 'shard-authentik', 'shard-dozzle', 'shard-traefik']);
  });
});

describe('healthcheck commands, as the Dockerfile and the compose files give them', () => {
  const listenPort = (svc: ComposeService) => portOf(String(svc.environment?.SHARD_LISTEN ?? svc.environment?.GATEWAY_LISTEN ?? ''));

  it.each([
    ...Object.entries(mcp.services).map(([name, svc]) => ['docker-compose.mcp.yaml', name, svc] as const),
    ...Object.entries(node.services).map(([name, svc]) => ['docker-compose.traefik-node.yaml', name, svc] as const),
  ].filter(([, , svc]) => svc.healthcheck))('%s %s passes against the real component', async (_file, name, svc) => {
    const test = svc.healthcheck?.test ?? [];
    expect(test[0]).toBe('CMD');
    const image = imageOf(svc);
    const result = await healthcheck(image, retarget(test.slice(1), listenPort(svc), ports[image] ?? 0), containerEnv(svc, {}));
    expect(result).toEqual({ code: 0, out: name === 'gateway' ? '' : 'SERVING\n' });
  });

  it.each(Object.values(dockerfile).filter((t) => t.healthcheck).map((t) => [t.name, t] as const))('the image %s has its own HEALTHCHECK, which passes without the compose file', async (name, target) => {
    const svc = mcp.services[name] ?? {};
    expect(target.expose).toContain(listenPort(svc));
    const result = await healthcheck(name, retarget(target.healthcheck ?? [], listenPort(svc), ports[name] ?? 0), containerEnv(svc, {}));
    expect(result).toEqual({ code: 0, out: name === 'gateway' ? '' : 'SERVING\n' });
  });

  it('fails when the identity is not the shard it reaches, and says so when it is missing', async () => {
    const svc = mcp.services['shard-traefik'] ?? {};
    const test = (svc.healthcheck?.test ?? []).slice(1);
    const wrong = await healthcheck('shard-traefik', retarget(test, 50051, ports['shard-dozzle'] ?? 0), containerEnv(svc, {}));
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain('the server is not shard-traefik');
    const bare = await healthcheck('shard-traefik', ['node', 'dist/healthcheck.mjs', '--grpc', `127.0.0.1:${ports['shard-traefik']}`], containerEnv(svc, {}));
    expect(bare).toEqual({ code: 2, out: expect.stringContaining('pass --identity') });
  });
});
