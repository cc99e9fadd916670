import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { upstreamFixture } from '../fixtures.js';

const run = promisify(execFile);
export const BUSYBOX_IMAGE = 'homelab-busybox:latest';

export interface DockerEngine {
  socket: string;
  /** docker CLI against this engine; `env` adds to the environment (e.g. DOCKER_BUILDKIT=1). */
  docker(args: string[], input?: string, env?: Record<string, string>): Promise<string>;
  /** Runs a --network none container from the busybox image; returns its id. */
  runContainer(name: string, script: string, opts?: { tty?: boolean; labels?: Record<string, string> }): Promise<string>;
  close(): Promise<void>;
}

export interface DockerEngineOptions {
  /**
   * overlay2 where the filesystem supports it (much faster for real images);
   * vfs (the default) works anywhere but copies every layer.
   */
  storageDriver?: 'vfs' | 'overlay2';
  /**
   * User-defined networks for compose: bridges in a private /16 that no
   * interface here uses yet, published ports through docker-proxy. Still no
   * default bridge and no iptables rules: the engine shares the host's network
   * namespace with others, so it changes nothing outside its own bridges (and
   * `internal` networks are not fenced off from the host). Image builds then
   * need `--network host`.
   */
  networks?: boolean;
}

/** Why a real Docker engine cannot run here, or undefined when it can. */
export function dockerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to start dockerd';
  for (const bin of ['/usr/sbin/dockerd', '/bin/busybox', '/usr/sbin/haproxy']) if (!existsSync(bin)) return `${bin} is missing (apt-get install docker.io busybox-static haproxy)`;
  if (!existsSync('/usr/bin/docker')) return '/usr/bin/docker (the CLI) is missing';
  return undefined;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A 10.x.0.0/16 that no interface of this host has an address in. */
function unusedPrivateNetwork(): string {
  const used = new Set(Object.values(networkInterfaces()).flat().flatMap((a) => (a?.family === 'IPv4' && a.address.startsWith('10.') ? [a.address.split('.')[1]] : [])));
  const free = Array.from({ length: 100 }, (_, i) => String(140 + i)).filter((o) => !used.has(o));
  const pick = free[Math.floor(Math.random() * free.length)];
  if (!pick) throw new Error('no free 10.x.0.0/16 for the Docker networks');
  return `10.${pick}.0.0/16`;
}

/**
 * A real Docker engine for tests: Debian's dockerd with its own data and exec
 * roots and socket (vfs storage unless asked, no iptables, no default bridge),
 * and a busybox image imported from the static busybox binary. Containers get
 * no network unless `networks` is set.
 */
export async function startDockerEngine(opts: DockerEngineOptions = {}): Promise<DockerEngine> {
  const why = dockerUnavailable();
  if (why) throw new Error(`cannot start a Docker engine: ${why}`);
  // unix socket paths are limited to ~107 bytes: keep the directory short.
  const dir = await mkdtemp('/tmp/hmd-');
  const socket = join(dir, 'd.sock');
  const daemon: ChildProcess = spawn('/usr/sbin/dockerd', [
    '--storage-driver', opts.storageDriver ?? 'vfs', '--iptables=false', '--bridge=none',
    ...(opts.networks ? ['--default-address-pool', `base=${unusedPrivateNetwork()},size=24`] : []),
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'x'), '--pidfile', join(dir, 'pid'),
    '-H', `unix://${socket}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const deadline = Date.now() + 60_000;
  while (!(await ping(socket))) {
    if (daemon.exitCode !== null || Date.now() > deadline) {
      daemon.kill('SIGKILL');
      throw new Error(`dockerd did not start: ${log.split('\n').slice(-5).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const docker = async (args: string[], input?: string, env: Record<string, string> = {}): Promise<string> => {
    // env(1) adds to the environment this process passes on.
    const argv = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/usr/bin/docker', '-H', `unix://${socket}`, ...args];
    if (input === undefined) return (await run('/usr/bin/env', argv, { maxBuffer: 64 * 1024 * 1024 })).stdout;
    return new Promise((resolve, reject) => {
      const p = spawn('/usr/bin/env', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(' ')}: ${err}`))));
      p.stdin.end(input);
    });
  };
  // The image: a rootfs holding the static busybox and its applets.
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await mkdir(join(rootfs, 'tmp'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'echo', 'sleep', 'seq', 'cat', 'yes', 'head', 'printf', 'true', 'date']) await symlink('busybox', join(rootfs, 'bin', applet));
  await run('/bin/sh', ['-c', `tar -C '${rootfs}' -c . | /usr/bin/docker -H unix://${socket} import --change 'ENV PATH=/bin' - ${BUSYBOX_IMAGE}`]);
  const names: string[] = [];
  return {
    socket,
    docker,
    runContainer: async (name, script, opts = {}) => {
      const labels = Object.entries(opts.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      names.push(name);
      return (await docker(['run', '-d', '--network', 'none', '--name', name, ...(opts.tty ? ['-t'] : []), ...labels, BUSYBOX_IMAGE, '/bin/sh', '-c', script])).trim();
    },
    close: async () => {
      if (names.length) await docker(['rm', '-f', ...names]).catch(() => undefined);
      // Its bridges would outlive the engine on the host.
      if (opts.networks) await docker(['network', 'prune', '-f']).catch(() => undefined);
      daemon.kill('SIGTERM');
      await new Promise((r) => (daemon.exitCode !== null ? r(undefined) : daemon.once('exit', r)));
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/**
 * Detaches what dockerd left mounted below its directory (the default network
 * namespace's nsfs, overlay2's private mount), deepest first, so the directory
 * can go rather than stay behind busy.
 */
async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = mountinfo.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
  for (const p of points.sort((a, b) => b.length - a.length)) await run('/bin/umount', ['-l', p]).catch(() => undefined);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface SocketProxy {
  /** DOCKER_HOST for the shard, e.g. tcp://127.0.0.1:2375. */
  dockerHost: string;
  url: string;
  close(): Promise<void>;
}

/** The proxy configuration the deployment ships (docker-compose.mcp.yaml mounts it): the Watchman's requests only. */
export const DEPLOY_PROXY_CONFIG = fileURLToPath(new URL('../../../deploy/docker-socket-proxy/haproxy.cfg', import.meta.url));

export interface SocketProxyOptions {
  /**
   * 'deploy' (default): deploy/docker-socket-proxy/haproxy.cfg, what the
   * deployment runs. 'upstream': Tecnativa's own haproxy.cfg with its
   * environment switches (CONTAINERS=1, POST=0, ...), for comparison.
   */
  config?: 'deploy' | 'upstream';
  /** Environment switches for the upstream configuration. */
  env?: Record<string, string>;
  /**
   * A network namespace (`ip netns`) to run the proxy in: it listens on that
   * namespace's loopback, reachable only by what runs there (a Docker node's
   * private network), not from here.
   */
  netns?: string;
}

/**
 * The docker-socket-proxy as its image runs it: Debian's haproxy with the
 * configuration templated as the image's entrypoint does (the bind address)
 * and the paths of Debian's package (error pages, pid file).
 */
export async function startSocketProxy(socketPath: string, opts: SocketProxyOptions = {}): Promise<SocketProxy> {
  const dir = await mkdtemp('/tmp/hmp-');
  const port = await freePort();
  const template = await readFile(opts.config === 'upstream' ? upstreamFixture('docker-socket-proxy/haproxy.cfg') : DEPLOY_PROXY_CONFIG, 'utf8');
  const cfg = template
    .replaceAll('${BIND_CONFIG}', `127.0.0.1:${port}`)
    .replaceAll('/usr/local/etc/haproxy/errors/', '/etc/haproxy/errors/')
    .replace('pidfile /run/haproxy.pid', `pidfile ${join(dir, 'haproxy.pid')}`)
    .replace('server-state-file /var/lib/haproxy/server-state', `server-state-file ${join(dir, 'server-state')}`);
  await writeFile(join(dir, 'haproxy.cfg'), cfg);
  const defaults: Record<string, string> = { EVENTS: '1', PING: '1', VERSION: '1', AUTH: '0', SECRETS: '0', POST: '0', BUILD: '0', COMMIT: '0', CONFIGS: '0', CONTAINERS: '1', DISTRIBUTION: '0', EXEC: '0', GRPC: '0', IMAGES: '0', INFO: '0', NETWORKS: '0', NODES: '0', PLUGINS: '0', SERVICES: '0', SESSION: '0', SWARM: '0', SYSTEM: '0', TASKS: '0', VOLUMES: '0', ALLOW_START: '0', ALLOW_STOP: '0', ALLOW_RESTARTS: '0', LOG_LEVEL: 'warning' };
  const env = { ...defaults, ...opts.env };
  const inNetns = opts.netns ? ['/usr/sbin/ip', 'netns', 'exec', opts.netns] : [];
  const argv = [...inNetns, '/usr/sbin/haproxy', '-db', '-f', join(dir, 'haproxy.cfg')];
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: { ...env, SOCKET_PATH: socketPath, PATH: '/usr/sbin:/usr/bin:/bin' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  // Inside a namespace only something there reaches it: busybox's wget asks from within.
  const pinged = () => (opts.netns ? run(inNetns[0]!, [...inNetns.slice(1), '/bin/busybox', 'wget', '-q', '-O', '/dev/null', `${url}/_ping`]).then(() => true, () => false) : fetch(`${url}/_ping`).then((r) => r.ok, () => false));
  for (;;) {
    const ok = await pinged();
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`haproxy did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dockerHost: `tcp://127.0.0.1:${port}`,
    url,
    close: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(undefined) : proc.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
