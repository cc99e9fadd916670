import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const vendored = fileURLToPath(new URL('../fixtures/upstream/', import.meta.url));
const shared = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe('vendored upstream fixtures', () => {
  (existsSync(shared) ? it : it.skip)(`are byte-identical to the shared fixture set${existsSync(shared) ? '' : ' (skipped: no shared/fixtures beside the checkout)'}`, async () => {
    const [a, b] = await Promise.all([files(vendored), files(shared)]);
    expect(a).toEqual(b);
    for (const f of a) {
      const [x, y] = await Promise.all([readFile(join(vendored, f)), readFile(join(shared, f))]);
      expect({ file: f, identical: x.equals(y) }).toEqual({ file: f, identical: true });
    }
  });

  it('include the licence of every upstream they come from', async () => {
    const list = await files(vendored);
    for (const l of ['traefik/LICENSE.md', 'dozzle/LICENSE', 'docker/LICENSE', 'docker-socket-proxy/LICENSE.txt', 'authentik/LICENSE', 'traefik/schemas/LICENSE']) expect(list).toContain(l);
  });
});
