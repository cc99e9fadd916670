import { fork, type ChildProcess } from 'node:child_process';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

/** What a component's main.ts reports over IPC once it listens. */
export interface ReadyMessage {
  type: 'ready';
  /** Where it listens, e.g. { grpc: "127.0.0.1:50061" } or { mcp: "http://127.0.0.1:8765/mcp" }. */
  endpoints: Record<string, string>;
}

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

function isReady(msg: unknown): msg is ReadyMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'ready';
}

/**
 * V8 settings per component (the images use the same, see the Dockerfile). The
 * Watchman streams long logs: a small young generation (2 MB semi-spaces
 * instead of up to 16) and no allocation-site pretenuring (on a long search V8
 * may otherwise start allocating the per-line objects straight into the old
 * generation, which then grows by about 50 MB between collections) keep it
 * small. Measured on search_logs over a million lines (bench/README.md): peak
 * RSS about 76 MiB instead of 110-135. The other shards keep V8's defaults: on
 * their busy request path a small young generation doubled the time spent in GC.
 */
export const RUNTIME_FLAGS: Readonly<Record<string, readonly string[]>> = {
  'shard-dozzle': ['--max-semi-space-size=2', '--no-allocation-site-pretenuring'],
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
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.name} did not start within ${spec.readyTimeoutMs ?? 30_000} ms`));
    }, spec.readyTimeoutMs ?? 30_000);
    const onExit = (code: number | null): void => {
      clearTimeout(timeout);
      reject(new Error(`${spec.name} exited with code ${code} before it was ready (its log above says why)`));
    };
    child.once('exit', onExit);
    child.on('message', (msg) => {
      if (!isReady(msg)) return;
      clearTimeout(timeout);
      child.off('exit', onExit);
      logger.debug({ component: spec.name, endpoints: msg.endpoints }, 'component ready');
      resolve({ spec, child, endpoints: msg.endpoints, exited });
    });
  });
}

/** Stops components in reverse start order: SIGTERM, then SIGKILL after the grace period. */
export async function stopComponents(components: RunningComponent[], graceMs = 10_000): Promise<void> {
  for (const c of [...components].reverse()) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
    c.child.kill('SIGTERM');
    const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
    await c.exited;
    clearTimeout(timer);
  }
}
