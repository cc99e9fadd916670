import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { Metafile } from 'esbuild';
import { repoRoot } from './paths.js';

/**
 * What each image carries: the bundles it runs (a Dockerfile target each).
 * The gateway and the shards have the healthcheck program beside them;
 * certs-init (which also runs `own`) is the CLI; homelab-sim is the demo's stand-ins.
 */
export const IMAGE_BUNDLES: Readonly<Record<string, readonly string[]>> = {
  gateway: ['gateway', 'healthcheck'],
  'shard-traefik': ['shard-traefik', 'healthcheck'],
  'shard-dozzle': ['shard-dozzle', 'healthcheck'],
  'shard-authentik': ['shard-authentik', 'healthcheck'],
  'certs-init': ['cli'],
  'homelab-sim': ['homelab-sim'],
};

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  exports?: unknown;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** 'a/b.js' -> 'a', '@s/a/b.js' -> '@s/a'. */
export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

/** Where Node finds package `name` for code in `fromDir` (the node_modules lookup, without exports). */
function findPackage(name: string, fromDir: string, root: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
    }
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}

/** The file a package subpath names through the package's "exports" (exact keys and one-star patterns), else the subpath itself. */
function exportedPath(manifest: Manifest, subpath: string): string {
  const key = `./${subpath}`;
  const exportsMap = typeof manifest.exports === 'object' && manifest.exports !== null ? (manifest.exports as Record<string, unknown>) : {};
  const target = (k: string) => (typeof exportsMap[k] === 'string' ? (exportsMap[k] as string) : undefined);
  const exact = target(key);
  if (exact) return exact.replace(/^\.\//, '');
  for (const k of Object.keys(exportsMap)) {
    const star = k.indexOf('*');
    const t = target(k);
    if (star < 0 || !t || !key.startsWith(k.slice(0, star))) continue;
    return t.replace('*', key.slice(star)).replace(/^\.\//, '');
  }
  return subpath;
}

/** The package specifiers a bundle imports from node_modules, split into those it loads at start and those it imports on demand. */
function externalImports(metafile: Metafile, bundle: string): { eager: Set<string>; lazy: Set<string> } {
  const output = Object.entries(metafile.outputs).find(([file]) => basename(file) === basename(bundle))?.[1];
  if (!output) throw new Error(`${bundle} is not an output of this build`);
  const eager = new Set<string>();
  const lazy = new Set<string>();
  for (const imp of output.imports) {
    if (!imp.external || isBuiltin(imp.path) || imp.path.startsWith('.')) continue;
    (imp.kind === 'dynamic-import' ? lazy : eager).add(imp.path);
  }
  return { eager, lazy };
}

/**
 * Files a bundle finds at run time through require.resolve() rather than
 * importing them (the descriptor set, the stand-ins' fixtures): the literal
 * specifier, or the literal part before the first ${...} of a template, which
 * then names a directory.
 */
export function resolvedAtRunTime(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/\brequire\d*\.resolve\(\s*(["'`])((?:(?!\1)[^\\])*?)\1\s*\)/g)) {
    const spec = m[1] === '`' ? (m[2] ?? '').split('${')[0] ?? '' : m[2] ?? '';
    if (spec && !spec.startsWith('.') && !isBuiltin(spec)) found.add(spec);
  }
  return [...found];
}

export interface RuntimeTree {
  /** Packages copied whole, as paths relative to the tree (node_modules/...). */
  packages: string[];
  /** Single files or directories of workspace packages the bundles read at run time. */
  files: string[];
}

/**
 * Lists what an image needs beside its bundles: every package the bundles
 * import from node_modules with its dependencies (followed the way Node
 * resolves them, so nested versions keep their place), and the files they
 * read from packages at run time. Development dependencies a bundle only
 * imports on demand (esbuild, for `build`) stay out; one it imports at start
 * is an error, since the image would not start without it.
 */
export function planRuntimeTree(root: string, metafile: Metafile, bundles: string[]): RuntimeTree {
  const rootManifest = readManifest(root);
  const dev = new Set(Object.keys(rootManifest.devDependencies ?? {}));
  const packages = new Set<string>();
  const files = new Set<string>();
  const visit = (pkgDir: string): void => {
    const rel = relative(root, pkgDir);
    if (packages.has(rel)) return;
    const real = realpathSync(pkgDir);
    if (!relative(root, real).split(sep).includes('node_modules')) {
      // A workspace package: bundled; only files it reads at run time are copied (below).
      return;
    }
    packages.add(rel);
    const m = readManifest(pkgDir);
    const optional = new Set(Object.keys({ ...m.optionalDependencies, ...m.peerDependencies }));
    for (const dep of new Set([...Object.keys(m.dependencies ?? {}), ...optional])) {
      const found = findPackage(dep, pkgDir, root);
      if (found) visit(found);
      else if (!optional.has(dep)) throw new Error(`${dep}, a dependency of ${m.name ?? rel}, is not installed: run npm ci`);
    }
  };
  for (const bundle of bundles) {
    const { eager, lazy } = externalImports(metafile, bundle);
    for (const spec of eager) {
      const name = packageName(spec);
      if (dev.has(name)) throw new Error(`${basename(bundle)} imports ${name} when it loads, but ${name} is a devDependency: move it to dependencies`);
    }
    for (const spec of [...eager, ...[...lazy].filter((s) => !dev.has(packageName(s)))]) {
      const name = packageName(spec);
      const found = findPackage(name, dirname(bundle), root);
      if (!found) throw new Error(`${basename(bundle)} imports ${name}, which is not installed: run npm ci`);
      visit(found);
    }
    for (const spec of resolvedAtRunTime(readFileSync(bundle, 'utf8'))) {
      const name = packageName(spec);
      const pkgDir = findPackage(name, dirname(bundle), root);
      if (!pkgDir) throw new Error(`${basename(bundle)} resolves ${spec} at run time, but ${name} is not installed`);
      if (relative(root, realpathSync(pkgDir)).split(sep).includes('node_modules')) {
        visit(pkgDir);
        continue;
      }
      const rel = join(relative(root, pkgDir), exportedPath(readManifest(pkgDir), spec.slice(name.length + 1)));
      if (!existsSync(join(root, rel))) throw new Error(`${basename(bundle)} resolves ${spec} at run time, but ${rel} does not exist`);
      files.add(join(relative(root, pkgDir), 'package.json'));
      files.add(rel);
    }
  }
  return { packages: [...packages].sort(), files: [...files].sort() };
}

/**
 * Files of a package Node never loads: TypeScript sources and declarations
 * (Node does not strip types under node_modules), source maps and Markdown
 * (READMEs, changelogs). About half of what npm installs for the gateway.
 */
const NOT_RUN = /\.(?:[cm]?ts|map|md|markdown)$/i;

/**
 * Writes one image's files into `outDir`: dist/ with its bundles and their
 * source maps, and node_modules/ with only what planRuntimeTree found.
 * Packages are copied without their own node_modules (nested dependencies
 * are in the plan at their own places) and without what Node never loads
 * (NOT_RUN); workspace packages as real directories, not links.
 */
export async function writeRuntimeTree(root: string, metafile: Metafile, bundles: string[], outDir: string): Promise<RuntimeTree> {
  const plan = planRuntimeTree(root, metafile, bundles);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'dist'), { recursive: true });
  for (const bundle of bundles) {
    for (const f of [bundle, `${bundle}.map`]) if (existsSync(f)) await cp(f, join(outDir, 'dist', basename(f)));
  }
  for (const rel of plan.packages) {
    const src = realpathSync(join(root, rel));
    await cp(src, join(outDir, rel), { recursive: true, dereference: true, filter: (p) => p === src || (!relative(src, p).split(sep).includes('node_modules') && !NOT_RUN.test(p)) });
  }
  for (const rel of plan.files) {
    const src = join(root, rel);
    await cp(src, join(outDir, rel), { recursive: statSync(src).isDirectory(), dereference: true });
  }
  return plan;
}

/** Writes <outDir>/<image>/ for every image of IMAGE_BUNDLES from the bundles a build just wrote. */
export async function writeRuntimeTrees(metafile: Metafile, bundles: Record<string, string>, outDir: string): Promise<Record<string, RuntimeTree>> {
  const trees: Record<string, RuntimeTree> = {};
  for (const [image, names] of Object.entries(IMAGE_BUNDLES)) {
    const files = names.map((n) => {
      const file = bundles[n];
      if (!file) throw new Error(`the build made no bundle for ${n}`);
      return file;
    });
    trees[image] = await writeRuntimeTree(repoRoot, metafile, files, join(outDir, image));
  }
  return trees;
}
