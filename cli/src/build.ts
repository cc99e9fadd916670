import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import type { Metafile } from 'esbuild';
import { entryOf, repoRoot } from './paths.js';

/** What runs as its own process, each built into dist/<name>.mjs (healthcheck: what the images' healthchecks run). */
export const BUILT_COMPONENTS = ['gateway', 'shard-traefik', 'shard-dozzle', 'shard-authentik', 'homelab-sim', 'cli', 'healthcheck'] as const;

export const distDir = join(repoRoot, 'dist');

/** Where `build` puts a component's bundle. */
export function bundleOf(component: string, dir = distDir): string {
  return join(dir, `${component}.mjs`);
}

/**
 * Node packages bundled into the output instead of imported from node_modules:
 * the workspace packages (they export TypeScript); the Docker client, whose
 * modem loads an SSH transport (ssh2, with 18 MB of WebAssembly memory) that the
 * Watchman never uses: its DOCKER_HOST must be tcp:// of a socket proxy; and
 * Authentik's generated client, a 60 MB package (every API, its docs and its
 * schema) of which the Gatekeeper uses six API classes; and prom-client, so
 * that what it requires can load on first use (ON_FIRST_USE).
 */
const BUNDLED = /^(@homelab-mcp\/|dockerode$|docker-modem$|@goauthentik\/api$|prom-client$)/;

/**
 * The Authentik client's build is CommonJS (its "module" field too), which
 * esbuild cannot tree-shake: the Gatekeeper's bundle would hold every API and
 * all 900 models (4.7 MB of source that V8 keeps in memory for as long as the
 * process lives). Its TypeScript sources, also in the package, are ES modules
 * marked side-effect free; bundled from them it keeps what the six API classes
 * use (0.7 MB; idle RSS about 10 MiB lower).
 */
function authentikSources(): { path: string } | undefined {
  const pkg = createRequire(resolve(repoRoot, 'shard-authentik', 'package.json')).resolve('@goauthentik/api/package.json');
  const path = join(dirname(pkg), 'src', 'index.ts');
  return existsSync(path) ? { path } : undefined;
}

/**
 * Packages that a bundled package requires as it loads but uses only for what
 * the components never do, by the package that requires them. The Docker
 * client: tar-fs (tar.pack) to build images and @grpc/proto-loader (with
 * protobufjs; loadSync) for BuildKit sessions, while the Watchman only reads.
 * prom-client: @opentelemetry/api (trace, context) for exemplars of its default
 * metrics, which the gateway neither collects nor enables. Each becomes an
 * object that requires the real package when one of its properties is first
 * read, so the components never hold them (about 6 and 2 MiB for a bare Node)
 * and a caller that does use them still gets them.
 */
const ON_FIRST_USE: Record<string, RegExp> = {
  '@grpc/proto-loader': /[\\/]node_modules[\\/]dockerode[\\/]/,
  'tar-fs': /[\\/]node_modules[\\/]dockerode[\\/]/,
  '@opentelemetry/api': /[\\/]node_modules[\\/]prom-client[\\/]/,
};
const ON_FIRST_USE_FILTER = new RegExp(`^(${Object.keys(ON_FIRST_USE).map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);

const NO_SSH = `export class Client {
  constructor() {
    throw new Error('ssh:// Docker hosts are not supported: set DOCKER_HOST to tcp://host:port of a GET-only socket proxy');
  }
}`;

export interface BuildResult {
  /** Component name -> bundle path. */
  bundles: Record<string, string>;
  /** What esbuild read and wrote, for the images' runtime trees (runtime-tree.ts). */
  metafile: Metafile;
  ms: number;
}

/**
 * Compiles each component's TypeScript entry point (with the workspace code it
 * imports) into one ES module with a source map, so components start without a
 * TypeScript loader in the process: less memory, faster start. Third-party
 * packages stay in node_modules. Files are replaced atomically, so a running
 * component or a concurrent build never sees half a bundle.
 */
export async function buildComponents(entries: Record<string, string> = Object.fromEntries(BUILT_COMPONENTS.map((c) => [c, entryOf(c)])), outDir = distDir): Promise<BuildResult> {
  const t0 = performance.now();
  // Loaded on demand: running a built component never needs the compiler.
  const esbuild = await import('esbuild');
  // The build runs in esbuild's service process, which stays up (about 70 MB and more) until stopped; stop it once done.
  const result = await esbuild.build({
    entryPoints: entries,
    // The metafile's input paths are relative to this (the freshness record and the runtime trees read them so).
    absWorkingDir: repoRoot,
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    // Stack traces need the mapping only; the sources are in the checkout (the Gatekeeper's map would be 9 MB with them).
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: 'silent',
    // CommonJS code bundled into an ES module still calls require() for Node's own modules.
    banner: { js: "import { createRequire as __homelabRequire } from 'node:module';\nconst require = __homelabRequire(import.meta.url);" },
    plugins: [
      {
        name: 'homelab-externals',
        setup(b) {
          b.onResolve({ filter: /^@goauthentik\/api$/ }, authentikSources);
          b.onResolve({ filter: /^ssh2$/ }, () => ({ path: 'ssh2', namespace: 'homelab-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'homelab-stub' }, () => ({ contents: NO_SSH, loader: 'js' }));
          b.onResolve({ filter: ON_FIRST_USE_FILTER }, (a) => (a.namespace === 'homelab-on-first-use' ? { path: a.path, external: true } : ON_FIRST_USE[a.path]?.test(a.importer) ? { path: a.path, namespace: 'homelab-on-first-use' } : undefined));
          b.onLoad({ filter: /.*/, namespace: 'homelab-on-first-use' }, (a) => ({
            contents: `let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require(${JSON.stringify(a.path)}))[key] });`,
            loader: 'js',
          }));
          b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('node:') || BUNDLED.test(a.path) ? undefined : { path: a.path, external: true }));
        },
      },
    ],
  }).finally(() => esbuild.stop());
  await mkdir(outDir, { recursive: true });
  await Promise.all(
    result.outputFiles.map(async (f) => {
      const tmp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}.${Math.random().toString(36).slice(2)}`);
      await writeFile(tmp, f.contents);
      await rename(tmp, f.path);
    }),
  );
  const bundles = Object.fromEntries(Object.keys(entries).map((name) => [name, bundleOf(name, outDir)]));
  await writeStamp(outDir, Object.keys(result.metafile.inputs), entries);
  return { bundles, metafile: result.metafile, ms: performance.now() - t0 };
}

/** Recorded beside the bundles: every file the build read, with the size and mtime it had then. */
const STAMP = 'build-inputs.json';
/** The build's own settings live in this file: a change to it makes every bundle stale (the same path whether the CLI runs from its sources or its bundle). */
const BUILD_SCRIPT = resolve(repoRoot, 'cli', 'src', 'build.ts');

interface Stamp {
  entries: Record<string, string>;
  files: Record<string, [size: number, mtimeMs: number]>;
}

async function fingerprint(file: string): Promise<[number, number] | undefined> {
  try {
    const s = await stat(file);
    return [s.size, s.mtimeMs];
  } catch {
    return undefined;
  }
}

async function writeStamp(outDir: string, inputs: string[], entries: Record<string, string>): Promise<void> {
  const files: Stamp['files'] = {};
  for (const f of [...inputs.map((i) => resolve(repoRoot, i)), BUILD_SCRIPT]) {
    const fp = await fingerprint(f);
    if (fp) files[f] = fp;
  }
  const tmp = join(outDir, `.${STAMP}.${process.pid}`);
  await writeFile(tmp, JSON.stringify({ entries, files } satisfies Stamp));
  await rename(tmp, join(outDir, STAMP));
}

/**
 * Whether the bundles in outDir were built from these entries and from inputs
 * that have not changed since (size and mtime of every file esbuild read, as
 * make decides): a warm start then skips the build. Any doubt (no record, a
 * file gone or changed, a bundle missing) means stale.
 */
export async function bundlesAreFresh(entries: Record<string, string>, outDir = distDir): Promise<boolean> {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(await readFile(join(outDir, STAMP), 'utf8')) as Stamp;
  } catch {
    return false;
  }
  if (JSON.stringify(stamp.entries) !== JSON.stringify(entries) || !stamp.files[BUILD_SCRIPT]) return false;
  const checks = [
    ...Object.keys(entries).map(async (name) => (await fingerprint(bundleOf(name, outDir))) !== undefined),
    ...Object.entries(stamp.files).map(async ([f, [size, mtimeMs]]) => {
      const now = await fingerprint(f);
      return now !== undefined && now[0] === size && now[1] === mtimeMs;
    }),
  ];
  return (await Promise.all(checks)).every(Boolean);
}

/** The bundles for `start` and the bench, built now; TypeScript entries through tsx when the build cannot run. */
export async function componentEntries(warn: (msg: string) => void): Promise<Record<string, string>> {
  const entries = Object.fromEntries(BUILT_COMPONENTS.map((c) => [c, entryOf(c)]));
  try {
    if (await bundlesAreFresh(entries)) return Object.fromEntries(BUILT_COMPONENTS.map((c) => [c, bundleOf(c)]));
    return (await buildComponents(entries)).bundles;
  } catch (err) {
    warn(`could not build the components into ${distDir} (${(err as Error).message.split('\n')[0]}); running their TypeScript through tsx`);
    return entries;
  }
}
