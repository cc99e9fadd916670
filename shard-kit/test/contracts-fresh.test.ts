import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';

const run = promisify(execFile);
const root = process.cwd();
let out: string | undefined;

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('contracts', () => {
  it('buf lint passes and the committed proto/gen is what `npm run generate` produces', async () => {
    out = await mkdtemp(join(tmpdir(), 'gen-'));
    await run(process.execPath, [join(root, 'scripts/generate.mjs'), '--out', out], { cwd: root });
    const committed = await listFiles(join(root, 'proto/gen'));
    const fresh = await listFiles(out);
    expect(committed).toEqual(fresh);
    for (const f of fresh) {
      const [a, b] = await Promise.all([readFile(join(root, 'proto/gen', f)), readFile(join(out, f))]);
      expect({ file: f, same: a.equals(b) }).toEqual({ file: f, same: true });
    }
  });

  it('keeps the vendored protocols as proto/vendored.json records them', async () => {
    const dir = join(root, 'proto');
    const sources = JSON.parse(await readFile(join(dir, 'vendored.json'), 'utf8')) as Record<string, { sha256: string; license: string }>;
    const vendored = (await listFiles(dir)).filter((f) => f.endsWith('.proto') && !f.startsWith('homelab/'));
    expect(vendored).toEqual(Object.keys(sources).sort());
    for (const [file, source] of Object.entries(sources)) {
      const sha256 = createHash('sha256').update(await readFile(join(dir, file))).digest('hex');
      expect({ file, sha256 }).toEqual({ file, sha256: source.sha256 });
      await expect(readFile(join(dir, source.license), 'utf8')).resolves.toContain('Apache License');
    }
  });

  it('has no breaking change against the previous commit', async () => {
    const { stdout } = await run('git', ['rev-list', '--count', 'HEAD'], { cwd: root }).catch(() => ({ stdout: '0' }));
    if (Number(stdout.trim()) < 2) return;
    const against = await run('git', ['ls-tree', '-r', '--name-only', 'HEAD~1', '--', 'proto'], { cwd: root });
    if (!against.stdout.includes('.proto')) return;
    await run(join(root, 'node_modules/.bin/buf'), ['breaking', '--against', '.git#ref=HEAD~1'], { cwd: root });
  });
});
