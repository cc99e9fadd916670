#!/usr/bin/env node
// The CLI runs from its bundle (dist/cli.mjs) while that was built from the
// sources as they are now: every file esbuild read still has the size and
// mtime recorded beside the bundles (dist/build-inputs.json, which `start`
// checks the same way before it skips a build). Otherwise tsx compiles the
// TypeScript sources on the fly, so a fresh clone runs with `npm ci` alone.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../../dist/', import.meta.url);
const sources = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function freshBundle() {
  try {
    const stamp = JSON.parse(readFileSync(new URL('build-inputs.json', dist), 'utf8'));
    if (stamp.entries?.cli !== sources) return undefined;
    for (const [file, [size, mtimeMs]] of Object.entries(stamp.files)) {
      const now = statSync(file);
      if (now.size !== size || now.mtimeMs !== mtimeMs) return undefined;
    }
    const bundle = new URL('cli.mjs', dist);
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}

const bundle = freshBundle();
if (bundle) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
