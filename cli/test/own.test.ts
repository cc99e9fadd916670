import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../src/paths.js';

const run = promisify(execFile);

// The owners-init service runs `own` as root with only CAP_CHOWN and CAP_FOWNER: so does this test (setpriv).
const why = process.getuid?.() !== 0 ? 'needs root to chown' : !existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv is missing (util-linux)' : undefined;
const suite = why ? describe.skip : describe;

let dir: string;
const owner = async (p: string) => {
  const st = await lstat(p);
  return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
};

function own(args: string[]) {
  return run('/usr/bin/setpriv', ['--bounding-set=-all,+chown,+fowner', '--inh-caps=-all', process.execPath, join(repoRoot, 'cli', 'bin', 'homelab-mcp.js'), 'own', '--user', '1000:1000', ...args], { cwd: repoRoot });
}

suite(`homelab-mcp own, as root with only CAP_CHOWN and CAP_FOWNER${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'homelab-own-'));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hands over a certificates tree that someone else made 0700/0600, without following links out of it', async () => {
    const certs = join(dir, 'certs');
    await mkdir(join(certs, 'gateway'), { recursive: true });
    await writeFile(join(certs, 'ca.pem'), 'ca');
    await writeFile(join(certs, 'gateway', 'key.pem'), 'key', { mode: 0o600 });
    const outside = join(dir, 'outside');
    await writeFile(outside, 'not ours', { mode: 0o600 });
    await symlink(outside, join(certs, 'gateway', 'link.pem'));
    // As `homelab-mcp certs init` run by another user leaves it: root cannot search these without CAP_DAC_READ_SEARCH.
    for (const p of [join(certs, 'gateway', 'key.pem'), join(certs, 'ca.pem'), join(certs, 'gateway'), certs]) await chown(p, 1234, 1234);
    await chmod(join(certs, 'gateway'), 0o700);
    await chmod(certs, 0o700);

    const { stdout } = await own(['--tree', certs]);

    expect(await owner(certs)).toBe('1000:1000 700');
    expect(await owner(join(certs, 'gateway'))).toBe('1000:1000 700');
    expect(await owner(join(certs, 'gateway', 'key.pem'))).toBe('1000:1000 600');
    expect(await owner(join(certs, 'ca.pem'))).toMatch(/^1000:1000 /);
    expect(await owner(outside)).toBe('0:0 600');
    expect(stdout).toContain(`${join(certs, 'gateway', 'key.pem')}: owner 1234:1234 -> 1000:1000`);
    expect(stdout).toContain('a symbolic link, left alone');
    // Nothing to do the second time.
    expect((await own(['--tree', certs])).stdout).not.toContain('owner');
  });

  it('hands over a directory itself only when the user cannot write there, leaving what is in it alone', async () => {
    const dynamic = join(dir, 'dynamic');
    await mkdir(dynamic);
    await writeFile(join(dynamic, 'traefik.yml'), 'http: {}\n');
    await own(['--dir', dynamic]);
    expect(await owner(dynamic)).toBe('1000:1000 755');
    expect(await owner(join(dynamic, 'traefik.yml'))).toMatch(/^0:0 /);

    const shared = join(dir, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
    await own(['--dir', shared]);
    expect(await owner(shared)).toBe('0:0 777');
  });

  it('hands a secret file over and takes it away from everyone else', async () => {
    const secrets = join(dir, 'secrets');
    await mkdir(secrets);
    const token = join(secrets, 'authentik_token');
    await writeFile(token, 'secret');
    await chmod(token, 0o644);
    const { stdout } = await own(['--secret', token]);
    expect(await owner(token)).toBe('1000:1000 600');
    expect(stdout).toContain('mode 0644 -> 0600');
  });

  it('says what is missing instead of creating it', async () => {
    await expect(own(['--secret', join(dir, 'secrets', 'nothing')])).rejects.toMatchObject({ stderr: expect.stringContaining('does not exist: create it') });
    await expect(run(process.execPath, [join(repoRoot, 'cli', 'bin', 'homelab-mcp.js'), 'own', '--user', 'node'], { cwd: repoRoot })).rejects.toMatchObject({ stderr: expect.stringContaining('--user must be numeric uid:gid (example: --user 1000:1000)') });
    expect(existsSync(join(dir, 'secrets', 'nothing'))).toBe(false);
    expect((await stat(dir)).uid).toBe(0);
  });
});
