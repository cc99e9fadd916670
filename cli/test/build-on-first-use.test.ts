import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildComponents, bundleOf } from '../src/build.js';
import { repoRoot } from '../src/paths.js';

// Inside the checkout, so the bundle resolves the Docker client and what it requires as the components do.
let dir: string;

beforeAll(async () => {
  await mkdir(join(repoRoot, 'node_modules', '.cache'), { recursive: true });
  dir = await mkdtemp(join(repoRoot, 'node_modules', '.cache', 'homelab-build-'));
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\n');
  await writeFile(
    join(dir, 'metrics.ts'),
    `import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
const loaded = (): boolean => Object.keys(cache).some((k) => k.includes('/node_modules/@opentelemetry/api/'));
const registry = new Registry();
new Counter({ name: 'calls_total', help: 'Calls.', registers: [registry] }).inc();
const plain = await registry.metrics();
const atStart = loaded();
const openMetrics = new Registry(Registry.OPENMETRICS_CONTENT_TYPE);
collectDefaultMetrics({ register: openMetrics, enableExemplars: true });
const withExemplars = await openMetrics.metrics();
process.stdout.write(JSON.stringify({ atStart, counted: plain.includes('calls_total 1'), afterExemplars: loaded(), cpu: withExemplars.includes('process_cpu_user_seconds_total') }));
`,
  );
  await writeFile(
    join(dir, 'main.ts'),
    `import Docker from 'dockerode';
import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
const loaded = (name: string): boolean => Object.keys(cache).some((k) => k.includes(\`/node_modules/\${name}/\`));
const atStart = { tarFs: loaded('tar-fs'), protoLoader: loaded('@grpc/proto-loader') };
// Nothing listens on port 9: the build context is packed, then the request fails.
const docker = new Docker({ protocol: 'http', host: '127.0.0.1', port: 9 });
const error = await docker.buildImage({ context: ${JSON.stringify(dir)}, src: ['Dockerfile'] }).then(() => 'none', (e: Error) => e.message);
process.stdout.write(JSON.stringify({ atStart, afterBuild: { tarFs: loaded('tar-fs') }, error }));
`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('bundled packages load what they require for features the components do not use on first use', () => {
  test('the Docker client: not at start; tar-fs once an image build packs its context', async () => {
    await buildComponents({ probe: join(dir, 'main.ts') }, join(dir, 'dist'));
    const { stdout } = await promisify(execFile)(process.execPath, [bundleOf('probe', join(dir, 'dist'))]);
    const seen = JSON.parse(stdout) as { atStart: Record<string, boolean>; afterBuild: Record<string, boolean>; error: string };
    expect(seen.atStart).toEqual({ tarFs: false, protoLoader: false });
    expect(seen.afterBuild).toEqual({ tarFs: true });
    expect(seen.error).toMatch(/ECONNREFUSED/);
  });

  test('prom-client: @opentelemetry/api not for plain metrics; once default metrics with exemplars are collected', async () => {
    await buildComponents({ metrics: join(dir, 'metrics.ts') }, join(dir, 'dist'));
    const { stdout } = await promisify(execFile)(process.execPath, [bundleOf('metrics', join(dir, 'dist'))]);
    expect(JSON.parse(stdout)).toEqual({ atStart: false, counted: true, afterExemplars: true, cpu: true });
  });
});
