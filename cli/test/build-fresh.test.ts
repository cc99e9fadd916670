import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildComponents, bundlesAreFresh, bundleOf } from '../src/build.js';

let dir: string;
let entries: Record<string, string>;
const out = () => join(dir, 'dist');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homelab-build-'));
  await writeFile(join(dir, 'util.ts'), 'export const greeting = (n: string): string => `hello ${n}`;\n');
  await writeFile(join(dir, 'main.ts'), "import { greeting } from './util.js';\nexport const text = greeting('lab');\n");
  entries = { app: join(dir, 'main.ts') };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a start skips the build only while the bundles match their inputs', () => {
  test('nothing built yet: stale', async () => {
    expect(await bundlesAreFresh(entries, out())).toBe(false);
  });

  test('just built: fresh; an imported file changed: stale until rebuilt', async () => {
    await buildComponents(entries, out());
    expect(await bundlesAreFresh(entries, out())).toBe(true);
    await writeFile(join(dir, 'util.ts'), 'export const greeting = (n: string): string => `hi ${n}`;\n');
    expect(await bundlesAreFresh(entries, out())).toBe(false);
    await buildComponents(entries, out());
    expect(await bundlesAreFresh(entries, out())).toBe(true);
  });

  test('other entry points than those built: stale', async () => {
    expect(await bundlesAreFresh({ ...entries, other: join(dir, 'util.ts') }, out())).toBe(false);
  });

  test('a bundle removed: stale', async () => {
    await unlink(bundleOf('app', out()));
    expect(await bundlesAreFresh(entries, out())).toBe(false);
  });
});
