import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import * as yaml from 'js-yaml';

const run = promisify(execFile);
const root = process.cwd();
const compose = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
const files = ['docker-compose.mcp.yaml', 'docker-compose.traefik-node.yaml'];

type Service = { user?: string; read_only?: boolean; cap_drop?: string[]; security_opt?: string[]; volumes?: string[]; secrets?: string[]; environment?: Record<string, string>; image?: string; healthcheck?: unknown };

describe('deployment files', () => {
  (compose ? it : it.skip)(`docker-compose validates ${files.join(' and ')}${compose ? '' : ' (skipped: docker-compose is not installed; .ci/run installs it)'}`, async () => {
    for (const f of files) await run(compose ?? '', ['-f', join(root, f), 'config', '-q'], { cwd: root, env: { ...process.env, AUTHENTIK_TOKEN_FILE: '/dev/null' } });
  });

  it('keeps least privilege: only the proxy sees the Docker socket, only the Traefik shard /dynamic, only the Authentik shard the token', () => {
    // YAML 1.1 for the merge keys (<<: *hardening) compose files use.
    const doc = yaml.load(readFileSync(join(root, 'docker-compose.mcp.yaml'), 'utf8'), { schema: yaml.YAML11_SCHEMA }) as { services: Record<string, Service> };
    const s = doc.services;
    for (const [name, svc] of Object.entries(s)) {
      const volumes = (svc.volumes ?? []).join(' ');
      expect({ name, socket: volumes.includes('docker.sock') }).toEqual({ name, socket: name === 'docker-socket-proxy' });
      expect({ name, dynamic: volumes.includes(':/dynamic') }).toEqual({ name, dynamic: name === 'shard-traefik' });
      expect({ name, token: (svc.secrets ?? []).includes('authentik_token') }).toEqual({ name, token: name === 'shard-authentik' });
      expect({ name, capDrop: svc.cap_drop }).toEqual({ name, capDrop: ['ALL'] });
      expect({ name, noNewPrivileges: svc.security_opt }).toEqual({ name, noNewPrivileges: ['no-new-privileges:true'] });
      expect({ name, readOnly: svc.read_only }).toEqual({ name, readOnly: true });
      if (name !== 'docker-socket-proxy') expect({ name, user: svc.user }).toEqual({ name, user: '1000:1000' });
      expect({ name, pinned: /:[\w.${}:-]*\d/.test(svc.image ?? '') }).toEqual({ name, pinned: true });
    }
    const proxy = s['docker-socket-proxy']?.environment ?? {};
    expect(proxy).toMatchObject({ CONTAINERS: 1, POST: 0, EXEC: 0, IMAGES: 0 });
    expect(s['shard-dozzle']?.environment?.DOCKER_HOST).toBe('tcp://docker-socket-proxy:2375');
  });

  it('builds images that run as a non-root user and bake in no secrets', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:24|ARG NODE_IMAGE=node:24\.\d+\.\d+-bookworm-slim/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).not.toMatch(/^(ENV|ARG) .*(TOKEN|PASSWORD|SECRET)/im);
    expect(dockerfile).not.toMatch(/COPY .*\.(pem|key)\b/);
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
    for (const p of ['**/*.pem', '**/*.key', '.homelab-mcp', '**/node_modules']) expect(ignore).toContain(p);
  });
});
