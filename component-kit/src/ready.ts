import type { ChildProcess } from 'node:child_process';

/** What a component reports to the launcher that forked it, once it listens. */
export interface ReadyMessage {
  type: 'ready';
  /** Where it listens, e.g. { grpc: "127.0.0.1:50061" } or { mcp: "http://127.0.0.1:8765/mcp" }. */
  endpoints: Record<string, string>;
}

export function isReadyMessage(msg: unknown): msg is ReadyMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'ready' && typeof (msg as { endpoints?: unknown }).endpoints === 'object';
}

/** Tells a launcher that forked this process (homelab-mcp start, a test) where it listens; nothing without one. */
export function reportReady(endpoints: Record<string, string>): void {
  process.send?.({ type: 'ready', endpoints } satisfies ReadyMessage);
}

/**
 * Waits for a forked component's ready message. Rejects when it exits first
 * or cannot be spawned (its own log says why), or stays silent for
 * `timeoutMs`; the child is then killed, so that nothing lingers on a port.
 */
export function waitForReady(child: ChildProcess, name: string, timeoutMs = 30_000): Promise<ReadyMessage['endpoints']> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      child.off('message', onMessage);
    };
    const timer = setTimeout(() => {
      done();
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new Error(`${name} exited with ${signal ?? `code ${code}`} before it was ready (its log says why)`));
    };
    const onError = (err: Error) => {
      done();
      reject(new Error(`${name} could not start: ${err.message}`));
    };
    const onMessage = (msg: unknown) => {
      if (!isReadyMessage(msg)) return;
      done();
      resolve(msg.endpoints);
    };
    child.once('exit', onExit);
    child.once('error', onError);
    child.on('message', onMessage);
  });
}
