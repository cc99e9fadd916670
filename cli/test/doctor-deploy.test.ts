import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { checkDeployment, interpolate, parseDotEnv } from '../src/doctor-deploy.js';
import { loadCliConfig } from '../src/config.js';
import { runDoctor, type Check } from '../src/doctor.js';
import { repoRoot } from '../src/paths.js';

const run = promisify(execFile);
const root = process.getuid?.() === 0;

let dir: string;
const failed = (checks: Check[]) => checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail} | ${c.fix ?? ''}`);

/** A deployment directory as the README's steps leave it, before the first `up`. */
async function deployment(): Promise<void> {
  await copyFile(join(repoRoot, 'docker-compose.mcp.yaml'), join(dir, 'docker-compose.mcp.yaml'));
  await copyFile(join(repoRoot, '.gitignore'), join(dir, '.gitignore'));
  await copyFile(join(repoRoot, 'deploy', 'example.env'), join(dir, '.env'));
  await chmod(join(dir, '.env'), 0o600);
  await writeFile(join(dir, '.env'), 'TRAEFIK_DYNAMIC_DIR=./traefik/dynamic\n', { flag: 'a' });
  await mkdir(join(dir, 'secrets'));
  await writeFile(join(dir, 'secrets', 'authentik_token'), 'ak-token', { mode: 0o600 });
  await run('git', ['init', '-q', dir]);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homelab-doctor-deploy-'));
  await deployment();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('compose variables as docker-compose reads them', () => {
  it('parses .env and substitutes ${VAR:-default}, ${VAR-default}, $VAR and $$', () => {
    const env = parseDotEnv('# comment\nA=1\nexport B="two words"\nEMPTY=\n');
    expect(env).toEqual({ A: '1', B: 'two words', EMPTY: '' });
    expect(interpolate('${A}/${EMPTY:-x}/${EMPTY-y}/${NOPE:-./certs}/$B/$$HOME', env)).toBe('1/x//./certs/two words/$HOME');
  });
});

describe('homelab-mcp doctor on a compose deployment', () => {
  it('before the first up, finds nothing wrong but the token file that owners-init hands to uid 1000', async () => {
    const { checks } = await checkDeployment(dir, {});
    const expected = process.getuid?.() === 1000 ? [] : [expect.stringMatching(/^secret authentik_token: shard-authentik runs as 1000:1000 and cannot read \.\/secrets\/authentik_token .*\| docker-compose -f docker-compose.mcp.yaml up owners-init/)];
    expect(failed(checks)).toEqual(expected);
    expect(checks.filter((c) => c.ok).map((c) => c.check)).toEqual(expect.arrayContaining(['.env not in git', '.env private', 'secret authentik_token not in git', 'secret authentik_token private', 'certs-init /certs', 'shard-traefik /dynamic']));
    expect(checks.find((c) => c.check === 'certs-init /certs')?.detail).toBe('./certs does not exist yet: Docker creates it as root, owners-init hands it to 1000:1000');
  });

  it('warns about a secret file git would commit, one it already tracks, and one everyone can read', async () => {
    await rm(join(dir, '.gitignore'));
    await chmod(join(dir, 'secrets', 'authentik_token'), 0o644);
    await run('git', ['-C', dir, 'add', '-f', '.env']);
    const problems = failed((await checkDeployment(dir, {})).checks);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^\.env not in git: \.\/\.env is committed to the git repository \| git rm --cached/),
      expect.stringMatching(/^secret authentik_token not in git: git would commit \.\/secrets\/authentik_token: it is not ignored \| Add secrets\/authentik_token to \.gitignore/),
      expect.stringMatching(/^secret authentik_token private: \.\/secrets\/authentik_token is readable by everyone \(mode 0644\) \| chmod o-rwx/),
    ]));
  });

  it('warns about a private key everyone can read', async () => {
    await mkdir(join(dir, 'certs', 'gateway'), { recursive: true });
    await writeFile(join(dir, 'certs', 'gateway', 'key.pem'), 'key', { mode: 0o644 });
    await chmod(join(dir, 'certs', 'gateway', 'key.pem'), 0o644);
    expect(failed((await checkDeployment(dir, {})).checks)).toContainEqual(expect.stringMatching(/^private key private: \.\/certs\/gateway\/key\.pem is readable by everyone/));
  });

  (root ? it : it.skip)(`names each file a container's user cannot use, with the fix${root ? '' : ' (skipped: needs root to chown)'}`, async () => {
    // What a fresh host left before owners-init existed: Docker's root-owned directories, certificates made by root on the host.
    await mkdir(join(dir, 'traefik', 'dynamic'), { recursive: true });
    await mkdir(join(dir, 'certs', 'shard-traefik'), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'certs', 'ca.pem'), 'ca');
    await writeFile(join(dir, 'certs', 'shard-traefik', 'key.pem'), 'key', { mode: 0o600 });
    await chown(join(dir, 'secrets', 'authentik_token'), 0, 0);
    const problems = failed((await checkDeployment(dir, {})).checks);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^certs-init \/certs: certs-init runs as 1000:1000 and cannot write \.\/certs \(owner 0:0, mode 0700\): EACCES \| docker-compose -f docker-compose.mcp.yaml up owners-init/),
      expect.stringMatching(/^shard-traefik \/certs\/shard-traefik: shard-traefik runs as 1000:1000 and cannot read \.\/certs\/shard-traefik \(owner 0:0, mode 0700\): EACCES \| .*sudo chown -R 1000:1000 \.\/certs\/shard-traefik/),
      expect.stringMatching(/^shard-traefik \/dynamic: shard-traefik runs as 1000:1000 and cannot write \.\/traefik\/dynamic .*\| .*sudo chown 1000:1000 \.\/traefik\/dynamic$/),
      expect.stringMatching(/^secret authentik_token: shard-authentik runs as 1000:1000 and cannot read \.\/secrets\/authentik_token \(owner 0:0, mode 0600\): EACCES \| docker-compose -f docker-compose.mcp.yaml up owners-init/),
    ]));
    // What owners-init leaves: all good.
    await run(process.execPath, [join(repoRoot, 'cli', 'bin', 'homelab-mcp.js'), 'own', '--user', '1000:1000', '--tree', join(dir, 'certs'), '--dir', join(dir, 'traefik', 'dynamic'), '--secret', join(dir, 'secrets', 'authentik_token')], { cwd: repoRoot });
    expect(failed((await checkDeployment(dir, {})).checks)).toEqual([]);
  });

  it('runs as part of `doctor` in a directory with docker-compose.mcp.yaml and .env, and fails on a problem', async () => {
    await chmod(join(dir, '.env'), 0o644);
    let text = '';
    const out = { write: (c: string) => ((text += c), true) } as unknown as NodeJS.WritableStream;
    const code = await runDoctor(loadCliConfig({ HOMELAB_MCP_HOME: join(dir, 'home') }), { cwd: dir, env: {}, out });
    expect(code).toBe(1);
    expect(text).toMatch(/FAIL {2}deploy +\.env private +\.\/\.env is readable by everyone \(mode 0644\)\n +fix: +chmod o-rwx \.\/\.env/);
    expect(text).not.toContain('no shards configured');
  });
});
