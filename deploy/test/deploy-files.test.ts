import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { readCompose, readDockerfile, root } from './support/deploy-files.js';

const run = promisify(execFile);
const compose = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
const files = ['docker-compose.mcp.yaml', 'docker-compose.traefik-node.yaml', 'docker-compose.docker-node.yaml', 'deploy/docker-compose.demo.yaml'];

describe('deployment files', () => {
  (compose ? it : it.skip)(`docker-compose validates ${files.join(', ')}${compose ? '' : ' (skipped: docker-compose is not installed; .ci/run installs it)'}`, async () => {
    for (const f of [['docker-compose.mcp.yaml'], ['docker-compose.mcp.yaml', 'deploy/docker-compose.demo.yaml'], ['docker-compose.traefik-node.yaml'], ['docker-compose.docker-node.yaml']]) {
      await run(compose ?? '', [...f.flatMap((x) => ['-f', join(root, x)]), 'config', '-q'], { cwd: root, env: { ...process.env, DOCKER_NODE: 'nas' } });
    }
    // A Docker node must be named: without DOCKER_NODE it would pose as the default instance.
    await expect(run(compose ?? '', ['-f', join(root, 'docker-compose.docker-node.yaml'), 'config', '-q'], { cwd: root, env: { ...process.env, DOCKER_NODE: '' } })).rejects.toThrow(/set DOCKER_NODE to this node's name/);
  });

  it('installs every workspace in the image build: each package.json is copied before npm ci, or npm ci fails on the lockfile', () => {
    const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const beforeCi = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
    const missing = workspaces.filter((ws) => !beforeCi.includes(`COPY ${ws}/package.json ${ws}/`));
    expect(missing).toEqual([]);
  });

  it('keeps least privilege: only the proxy sees the Docker socket, only the Traefik shard /dynamic, only the Authentik shard the token', () => {
    const s = readCompose('docker-compose.mcp.yaml').services;
    for (const [name, svc] of Object.entries(s)) {
      const volumes = (svc.volumes ?? []).join(' ');
      expect({ name, socket: volumes.includes('docker.sock') }).toEqual({ name, socket: name === 'docker-socket-proxy' });
      // owners-init mounts what it hands over, and runs nothing else.
      expect({ name, dynamic: /:\/(mounts\/)?dynamic\b/.test(volumes) }).toEqual({ name, dynamic: ['shard-traefik', 'owners-init'].includes(name) });
      expect({ name, token: (svc.secrets ?? []).includes('authentik_token') }).toEqual({ name, token: name === 'shard-authentik' });
      expect({ name, capDrop: svc.cap_drop }).toEqual({ name, capDrop: ['ALL'] });
      expect({ name, noNewPrivileges: svc.security_opt }).toEqual({ name, noNewPrivileges: ['no-new-privileges:true'] });
      expect({ name, readOnly: svc.read_only }).toEqual({ name, readOnly: true });
      if (!['docker-socket-proxy', 'owners-init'].includes(name)) expect({ name, user: svc.user, capAdd: svc.cap_add }).toEqual({ name, user: '1000:1000', capAdd: undefined });
      expect({ name, pinned: /:[\w.${}:-]*\d/.test(svc.image ?? '') }).toEqual({ name, pinned: true });
    }
    expect(s['shard-dozzle']?.environment?.DOCKER_HOST).toBe('tcp://docker-socket-proxy:2375');
  });

  it('runs a Docker node\'s Watchman next to its socket proxy, the proxy on an internal network only and nothing published but the shard\'s port', () => {
    const file = readCompose('docker-compose.docker-node.yaml');
    const s = file.services;
    expect(Object.keys(s).sort()).toEqual(['docker-socket-proxy', 'owners-init', 'shard-dozzle']);
    const published = Object.entries(s).filter(([, svc]) => ((svc as { ports?: string[] }).ports ?? []).length > 0);
    expect(published.map(([n, svc]) => [n, (svc as { ports?: string[] }).ports])).toEqual([['shard-dozzle', ['${SHARD_DOZZLE_BIND:-0.0.0.0}:${SHARD_DOZZLE_PORT:-50051}:50051']]]);
    expect((s['docker-socket-proxy'] as { networks?: string[] }).networks).toEqual(['socket-proxy']);
    expect((file as unknown as { networks: Record<string, { internal?: boolean }> }).networks['socket-proxy']).toEqual({ internal: true });
    for (const [name, svc] of Object.entries(s)) {
      expect({ name, socket: (svc.volumes ?? []).join(' ').includes('docker.sock') }).toEqual({ name, socket: name === 'docker-socket-proxy' });
      expect({ name, capDrop: svc.cap_drop, readOnly: svc.read_only }).toEqual({ name, capDrop: ['ALL'], readOnly: true });
    }
    const shard = s['shard-dozzle']!;
    expect(shard.environment).toMatchObject({ DOCKER_HOST: 'tcp://docker-socket-proxy:2375', SHARD_INSTANCE: expect.stringMatching(/^\$\{DOCKER_NODE:\?/) });
    // Only this node's certificate directory is mounted, never the whole certs/.
    expect(shard.volumes).toContain('${HOMELAB_MCP_CERTS:-./certs}/shard-dozzle.${DOCKER_NODE}:/certs/shard-dozzle:ro');
    expect(shard.healthcheck?.test).toEqual(['CMD', 'node', 'dist/healthcheck.mjs', '--grpc', '127.0.0.1:50051', '--identity', 'shard-dozzle/${DOCKER_NODE}']);
    // The same proxy rules as the gateway node's.
    expect(s['docker-socket-proxy']?.volumes).toEqual(readCompose('docker-compose.mcp.yaml').services['docker-socket-proxy']?.volumes);
  });

  it('runs as root only to chown: owners-init, with CHOWN and FOWNER, no network, before everything else', () => {
    for (const file of ['docker-compose.mcp.yaml', 'docker-compose.traefik-node.yaml', 'docker-compose.docker-node.yaml']) {
      const s = readCompose(file).services;
      const init = s['owners-init'];
      expect(init).toMatchObject({ user: '0:0', cap_drop: ['ALL'], cap_add: ['CHOWN', 'FOWNER'], network_mode: 'none', read_only: true });
      expect(init?.command?.slice(0, 4)).toEqual(['dist/cli.mjs', 'own', '--user', '1000:1000']);
      // Everything that mounts a host path or the volume waits for it (directly or through certs-init).
      const waits = (name: string): boolean => Object.keys(s[name]?.depends_on ?? {}).some((d) => d === 'owners-init' || waits(d));
      for (const name of Object.keys(s)) if (name !== 'owners-init' && name !== 'docker-socket-proxy') expect({ name, waits: waits(name) }).toEqual({ name, waits: true });
      // The user it hands things to is the one the services run as.
      for (const svc of Object.values(s)) if (svc.user && svc.user !== '0:0') expect(svc.user).toBe(init?.command?.[3]);
    }
  });

  it('gives the socket proxy the Watchman\'s rules instead of the image\'s switches, with room for its entrypoint to write', () => {
    const proxy = readCompose('docker-compose.mcp.yaml').services['docker-socket-proxy'];
    expect(proxy?.volumes).toContain('./deploy/docker-socket-proxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg.template:ro');
    expect(proxy?.environment).not.toHaveProperty('CONTAINERS');
    expect((proxy as { tmpfs?: string[] }).tmpfs?.some((t) => t.startsWith('/tmp:'))).toBe(true);
    const cfg = readFileSync(join(root, 'deploy/docker-socket-proxy/haproxy.cfg'), 'utf8');
    expect(cfg).toContain('bind ${BIND_CONFIG}');
    expect(cfg).toMatch(/^\s+http-request deny unless METH_GET$/m);
    expect(cfg).toMatch(/^\s+http-request deny$/m);
  });

  it('builds images that run as a non-root user, bake in no secrets and fetch nothing but npm packages', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24\.\d+\.\d+-bookworm-slim$/m);
    // No remote frontend (BuildKit would fetch it from a registry) and nothing only BuildKit knows.
    expect(dockerfile).not.toMatch(/^#\s*syntax=/im);
    expect(dockerfile).not.toMatch(/--mount=|<<\w+/);
    expect(dockerfile).not.toMatch(/^(ENV|ARG) .*(TOKEN|PASSWORD|SECRET)/im);
    expect(dockerfile).not.toMatch(/COPY .*\.(pem|key)\b/);
    for (const t of Object.values(readDockerfile())) {
      if (['build', 'base'].includes(t.name)) continue;
      expect({ target: t.name, user: /^USER node$/m.test(t.text) }).toEqual({ target: t.name, user: true });
    }
    expect(readDockerfile().gateway?.text).toMatch(/install -d -o node -g node -m 0700 \/data/);
  });

  it('keeps the secrets a deployment puts beside the checkout out of git and out of the image build', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['**/*.pem', '**/*.key', '.homelab-mcp', '**/node_modules', '**/.env', 'secrets', 'certs', 'traefik']) expect(ignore).toContain(p);
    const gitignore = readFileSync(join(root, '.gitignore'), 'utf8').split('\n');
    for (const p of ['.env', '/secrets/', '/certs/', '/traefik/', '.homelab-mcp/']) expect(gitignore).toContain(p);
  });

  it('ignores exactly those files, as git sees them', async () => {
    const ignored = async (p: string) => run('git', ['-C', root, 'check-ignore', '-q', '--no-index', p]).then(() => true, () => false);
    for (const p of ['.env', 'secrets/authentik_token', 'certs/gateway/key.pem', 'traefik/dynamic/mcp-x.yml']) expect({ p, ignored: await ignored(p) }).toEqual({ p, ignored: true });
    for (const p of ['deploy/example.env', 'docker-compose.mcp.yaml', 'homelab-sim/src/traefik/index.ts']) expect({ p, ignored: await ignored(p) }).toEqual({ p, ignored: false });
  });
});
