import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as yaml from 'js-yaml';
import type { Check } from './doctor.js';
import { canRead, canWrite } from './file-access.js';

const run = promisify(execFile);

/** The compose file `doctor` checks a deployment directory for (README.md "Deploy with Docker Compose"). */
export const COMPOSE_FILE = 'docker-compose.mcp.yaml';

interface Service {
  user?: string;
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  secrets?: (string | { source: string })[];
}

interface ComposeFile {
  services?: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
}

/** The variables compose reads from .env: KEY=VALUE lines, # comments, optional quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m?.[1] || line.startsWith('#')) continue;
    out[m[1]] = (m[2] ?? '').replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/** Compose's variable substitution: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, $$ for a dollar. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, name?: string, op?: string, def?: string, bare?: string) => {
    if (all === '$$') return '$';
    const key = name ?? bare ?? '';
    const v = env[key];
    if (op === ':-') return v ? v : def ?? '';
    if (op === '-') return v !== undefined ? v : def ?? '';
    return v ?? '';
  });
}

function interpolateAll<T>(node: T, env: Record<string, string | undefined>): T {
  if (typeof node === 'string') return interpolate(node, env) as T;
  if (Array.isArray(node)) return node.map((n: unknown) => interpolateAll(n, env)) as T;
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)])) as T;
  return node;
}

interface Mount {
  service: string;
  uid: number;
  gid: number;
  source: string;
  target: string;
  readOnly: boolean;
}

/** Host paths each service mounts (bind mounts and secret files), with the user it runs as; root services are left out. */
function mountsOf(compose: ComposeFile, dir: string): { mounts: Mount[]; secrets: { name: string; file: string; services: { service: string; uid: number; gid: number }[] }[] } {
  const mounts: Mount[] = [];
  const secrets = Object.entries(compose.secrets ?? {}).flatMap(([name, s]) => (s.file ? [{ name, file: resolve(dir, s.file), services: [] as { service: string; uid: number; gid: number }[] }] : []));
  for (const [service, svc] of Object.entries(compose.services ?? {})) {
    const user = /^(\d+):(\d+)$/.exec(svc.user ?? '');
    if (!user) continue;
    const uid = Number(user[1]);
    const gid = Number(user[2]);
    if (uid === 0) continue;
    for (const v of svc.volumes ?? []) {
      let source: string | undefined;
      let target = '';
      let readOnly = false;
      if (typeof v === 'string') {
        const parts = v.split(':');
        source = parts[0];
        target = parts[1] ?? '';
        readOnly = (parts[2] ?? '').split(',').includes('ro');
      } else if (v.type === 'bind') {
        source = v.source;
        target = v.target ?? '';
        readOnly = Boolean(v.read_only);
      }
      // Named volumes have no path here; they are checked through Docker.
      if (!source || !(source.startsWith('.') || isAbsolute(source))) continue;
      mounts.push({ service, uid, gid, source: resolve(dir, source), target, readOnly });
    }
    for (const s of svc.secrets ?? []) {
      const name = typeof s === 'string' ? s : s.source;
      secrets.find((x) => x.name === name)?.services.push({ service, uid, gid });
    }
  }
  return { mounts, secrets };
}

const show = (dir: string, p: string) => (p.startsWith(`${dir}/`) ? `./${relative(dir, p)}` : p);
const mode = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/** The first file or directory under `path` (itself included) that uid:gid cannot read, or undefined. */
async function firstUnreadable(path: string, uid: number, gid: number): Promise<{ path: string; uid: number; gid: number; mode: number } | undefined> {
  const st = await stat(path);
  if (!canRead(st, uid, gid)) return { path, uid: st.uid, gid: st.gid, mode: st.mode };
  if (!st.isDirectory()) return undefined;
  for (const entry of await readdir(path)) {
    const found = await firstUnreadable(join(path, entry), uid, gid);
    if (found) return found;
  }
  return undefined;
}

/** What git would do with a file: 'tracked', 'committable' (in a work tree and not ignored), or undefined. */
async function gitExposure(file: string): Promise<'tracked' | 'committable' | undefined> {
  const cwd = dirname(file);
  const git = (args: string[]) => run('git', ['-C', cwd, ...args]).then(() => 0, (e: { code?: number | string }) => (typeof e.code === 'number' ? e.code : -1));
  if ((await git(['rev-parse', '--is-inside-work-tree'])) !== 0) return undefined;
  if ((await git(['ls-files', '--error-unmatch', '--', basename(file)])) === 0) return 'tracked';
  return (await git(['check-ignore', '-q', '--', basename(file)])) === 1 ? 'committable' : undefined;
}

/**
 * Checks a file that holds a secret: git would not commit it and no one but
 * its owner (and group) can read it.
 */
export async function checkSecretFile(file: string, label: string, dir: string): Promise<Check[]> {
  const st = await lstat(file).catch(() => undefined);
  if (!st) return [];
  const checks: Check[] = [];
  const where = show(dir, file);
  const exposure = await gitExposure(file);
  checks.push(exposure === 'tracked'
    ? { target: 'deploy', check: `${label} not in git`, ok: false, detail: `${where} is committed to the git repository`, fix: `git rm --cached ${where}, add it to .gitignore, and replace the secret: it is in the history.` }
    : exposure === 'committable'
      ? { target: 'deploy', check: `${label} not in git`, ok: false, detail: `git would commit ${where}: it is not ignored`, fix: `Add ${where.replace(/^\.\//, '')} to .gitignore (and .dockerignore).` }
      : { target: 'deploy', check: `${label} not in git`, ok: true, detail: `${where} is ignored or outside a repository` });
  checks.push((st.mode & 0o004) !== 0
    ? { target: 'deploy', check: `${label} private`, ok: false, detail: `${where} is readable by everyone (mode ${mode(st.mode)})`, fix: `chmod o-rwx ${where}` }
    : { target: 'deploy', check: `${label} private`, ok: true, detail: `${where} mode ${mode(st.mode)}` });
  return checks;
}

async function checkMount(m: Mount, dir: string): Promise<Check | undefined> {
  const where = show(dir, m.source);
  const name = `${m.service} ${m.target}`;
  const owners = (recursive: boolean) => `docker-compose -f ${COMPOSE_FILE} up owners-init (it hands it to ${m.uid}:${m.gid}), or: sudo chown ${recursive ? '-R ' : ''}${m.uid}:${m.gid} ${where}`;
  try {
    const st = await stat(m.source).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!st) {
      return { target: 'deploy', check: name, ok: true, detail: `${where} does not exist yet: Docker creates it as root, owners-init hands it to ${m.uid}:${m.gid}` };
    }
    if (!m.readOnly && st.isDirectory()) {
      return canWrite(st, m.uid, m.gid)
        ? { target: 'deploy', check: name, ok: true, detail: `${where} writable by ${m.uid}:${m.gid}` }
        : { target: 'deploy', check: name, ok: false, detail: `${m.service} runs as ${m.uid}:${m.gid} and cannot write ${where} (owner ${st.uid}:${st.gid}, mode ${mode(st.mode)}): EACCES`, fix: owners(false) };
    }
    const bad = await firstUnreadable(m.source, m.uid, m.gid);
    return bad
      ? { target: 'deploy', check: name, ok: false, detail: `${m.service} runs as ${m.uid}:${m.gid} and cannot read ${show(dir, bad.path)} (owner ${bad.uid}:${bad.gid}, mode ${mode(bad.mode)}): EACCES`, fix: owners(true) }
      : { target: 'deploy', check: name, ok: true, detail: `${where} readable by ${m.uid}:${m.gid}` };
  } catch (err) {
    return { target: 'deploy', check: name, ok: false, detail: `cannot check ${where}: ${(err as Error).message}`, fix: 'Run doctor as root (or as the owner of these files).' };
  }
}

/** The named volume's directory on the host, through the Docker CLI; undefined when Docker cannot be asked. */
async function volumeMountpoint(volume: string): Promise<string | undefined> {
  const out = await run('docker', ['volume', 'inspect', '--format', '{{.Mountpoint}}', volume]).then((r) => r.stdout.trim(), () => undefined);
  return out || undefined;
}

/**
 * The checks of a compose deployment in `dir` (docker-compose.mcp.yaml with
 * its .env): every directory and file a container mounts is readable (or,
 * mounted read-write, writable) by the user that container runs as, the
 * gateway's data volume is writable by it, and the secrets (.env, the token
 * files, the private keys) are neither committable to git nor readable by
 * everyone. Also says where the deployment keeps its certificates.
 */
export async function checkDeployment(dir: string, env: Record<string, string | undefined>): Promise<{ checks: Check[]; certsDir: string; nodesFile: string }> {
  const composePath = join(dir, COMPOSE_FILE);
  const envFile = join(dir, '.env');
  const vars = { ...(existsSync(envFile) ? parseDotEnv(readFileSync(envFile, 'utf8')) : {}), ...env };
  // YAML 1.1 for the merge keys (<<: *hardening) compose files use.
  const compose = interpolateAll(yaml.load(readFileSync(composePath, 'utf8'), { schema: yaml.YAML11_SCHEMA }) as ComposeFile, vars);
  const { mounts, secrets } = mountsOf(compose, dir);
  const checks: Check[] = [];
  checks.push(...(await checkSecretFile(envFile, '.env', dir)));
  for (const s of secrets) {
    const where = show(dir, s.file);
    const st = await stat(s.file).catch(() => undefined);
    if (!st) {
      checks.push({ target: 'deploy', check: `secret ${s.name}`, ok: false, detail: `${where} does not exist`, fix: `mkdir -p ${dirname(where)} && printf '%s' '<the secret>' > ${where} && chmod 600 ${where}` });
      continue;
    }
    for (const user of s.services) {
      checks.push(canRead(st, user.uid, user.gid)
        ? { target: 'deploy', check: `secret ${s.name}`, ok: true, detail: `${where} readable by ${user.service} (${user.uid}:${user.gid})` }
        : { target: 'deploy', check: `secret ${s.name}`, ok: false, detail: `${user.service} runs as ${user.uid}:${user.gid} and cannot read ${where} (owner ${st.uid}:${st.gid}, mode ${mode(st.mode)}): EACCES`, fix: `docker-compose -f ${COMPOSE_FILE} up owners-init (it hands the file to ${user.uid}:${user.gid}, mode 0600), or: sudo chown ${user.uid}:${user.gid} ${where}` });
    }
    checks.push(...(await checkSecretFile(s.file, `secret ${s.name}`, dir)));
  }
  const seen = new Set<string>();
  for (const m of mounts) {
    const key = `${m.source}\0${m.uid}:${m.gid}\0${m.readOnly}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const c = await checkMount(m, dir);
    if (c) checks.push(c);
  }
  // Private keys under the certificates directory.
  const certs = resolve(dir, vars.HOMELAB_MCP_CERTS || './certs');
  const keys = (await readdir(certs, { recursive: true }).catch(() => [] as string[])).filter((f) => /key\.pem$/.test(f));
  for (const k of keys) checks.push(...(await checkSecretFile(join(certs, k), 'private key', dir)));
  // The gateway's named volume, as Docker keeps it.
  const project = vars.COMPOSE_PROJECT_NAME || basename(dir).toLowerCase().replace(/[^a-z0-9_-]/g, '');
  for (const [service, svc] of Object.entries(compose.services ?? {})) {
    const user = /^(\d+):(\d+)$/.exec(svc.user ?? '');
    if (!user || user[1] === '0') continue;
    for (const v of svc.volumes ?? []) {
      const [name, target, opts] = typeof v === 'string' ? v.split(':') : [];
      if (!name || !target || !(compose.volumes && name in compose.volumes) || (opts ?? '').includes('ro')) continue;
      const path = await volumeMountpoint(`${project}_${name}`);
      const st = path ? await stat(path).catch(() => undefined) : undefined;
      if (!st) continue;
      const uid = Number(user[1]);
      const gid = Number(user[2]);
      checks.push(canWrite(st, uid, gid)
        ? { target: 'deploy', check: `${service} ${target}`, ok: true, detail: `volume ${project}_${name} writable by ${uid}:${gid}` }
        : { target: 'deploy', check: `${service} ${target}`, ok: false, detail: `${service} runs as ${uid}:${gid} and cannot write the volume ${project}_${name} (owner ${st.uid}:${st.gid}, mode ${mode(st.mode)}): EACCES on ${target}`, fix: `docker-compose -f ${COMPOSE_FILE} up owners-init (it hands the volume to ${uid}:${gid})` });
    }
  }
  // The Docker nodes the gateway lists (docker-compose.mcp.yaml mounts this directory as GATEWAY_CONFIG's).
  const nodesFile = join(resolve(dir, vars.HOMELAB_MCP_NODES || './deploy/nodes'), 'nodes.yaml');
  return { checks, certsDir: certs, nodesFile };
}
