import { fork, type ChildProcess } from 'node:child_process';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { drain } from '@homelab-mcp/component-kit/drain.js';
import { waitForReady } from '@homelab-mcp/component-kit/ready.js';

export interface ComponentSpec {
  /** Short name shown to the user, e.g. "shard-traefik". */
  name: string;
  /** Absolute path of the component's entry point: its bundle (dist/*.mjs) or its TypeScript source. */
  entry: string;
  env: Record<string, string>;
  /** How long to wait for the ready message. */
  readyTimeoutMs?: number;
}

export interface RunningComponent {
  spec: ComponentSpec;
  child: ChildProcess;
  endpoints: Record<string, string>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
}

/**
 * V8 settings per component (the images use the same, see the Dockerfile). The
 * Watchman streams long logs: a small young generation (2 MB semi-spaces
 * instead of up to 16) and no allocation-site pretenuring (on a long search V8
 * may otherwise start allocating the per-line objects straight into the old
 * generation, which then grows by about 50 MB between collections) keep it
 * small. Measured on search_logs over a million lines (bench/README.md): peak
 * RSS about 76 MiB instead of 110-135. The Gatekeeper gets the same small
 * young generation: its calls are few and small (an admin's changes to
 * Authentik), while the young generation its start-up grows would stay
 * resident (idle RSS about 80 MiB instead of 91-100). The Navigator and the
 * gateway keep V8's defaults: on their busy request path a young generation of
 * 2 MB doubled the time spent in GC, and 4 MB still cost the gateway about 10%
 * more CPU per call.
 */
export const RUNTIME_FLAGS: Readonly<Record<string, readonly string[]>> = {
  'shard-dozzle': ['--max-semi-space-size=2', '--no-allocation-site-pretenuring'],
  'shard-authentik': ['--max-semi-space-size=2'],
};

/** The component an entry point belongs to: dist/<component>.mjs or <component>/src/main.ts. */
function componentOf(entry: string): string {
  return entry.endsWith('.ts') ? basename(dirname(dirname(entry))) : basename(entry).replace(/\.m?js$/, '');
}

/**
 * Node flags for an entry point: its component's V8 settings; TypeScript runs
 * through tsx, a bundle as is (NODE_OPTIONS=--enable-source-maps maps its stack
 * traces to the sources, at about 9 MB of memory per process).
 */
export function nodeFlagsFor(entry: string): string[] {
  return [...(RUNTIME_FLAGS[componentOf(entry)] ?? []), ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : [])];
}

/**
 * Starts a component as its own Node process, so one
 * crashing component never takes the others down, and waits until it reports
 * where it listens.
 */
export function startComponent(spec: ComponentSpec, logger: Logger): Promise<RunningComponent> {
  const child = fork(spec.entry, [], {
    execArgv: nodeFlagsFor(spec.entry),
    // The child inherits the environment as a whole (PATH, locale, proxies); its own settings override it.
    // eslint-disable-next-line no-restricted-properties
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return waitForReady(child, spec.name, spec.readyTimeoutMs).then((endpoints) => {
    logger.debug({ component: spec.name, endpoints }, 'component ready');
    return { spec, child, endpoints, exited };
  });
}

/** Stops components in reverse start order: SIGTERM, then SIGKILL after the grace period. */
export async function stopComponents(components: RunningComponent[], graceMs = 10_000): Promise<void> {
  for (const c of [...components].reverse()) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
    c.child.kill('SIGTERM');
    await drain(c.exited, () => {
      c.child.kill('SIGKILL');
      return c.exited;
    }, graceMs);
  }
}
