import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { drain, waitForReady } from '@homelab-mcp/component-kit';

// A second "node" on this machine: a Linux network namespace joined to the
// root namespace by a veth pair, with addresses from a private /30 chosen per
// test run. Components run inside it as their own Node processes.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `ip` for cleanup: a missing namespace, link or route is not an error then. */
function ipQuiet(args: string[]): void {
  try {
    ip(args);
  } catch {
    // already gone
  }
}

function describeFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { stderr?: string };
  if (e.code === 'ENOENT') return 'the ip command (iproute2) is not installed';
  return (e.stderr?.trim() || e.message).split('\n')[0]!;
}

/**
 * Why network-namespace tests cannot run here, or undefined when they can:
 * they need Linux, root and iproute2 able to create a namespace and a veth pair.
 */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'creating network namespaces and veth pairs needs root';
  const ns = `hmcp-probe-${process.pid}`;
  const veth = `hmcp${process.pid}p`;
  try {
    ip(['netns', 'add', ns]);
  } catch (err) {
    return `ip netns add failed: ${describeFailure(err)}`;
  }
  try {
    ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}q`]);
    ipQuiet(['link', 'del', veth]);
  } catch (err) {
    return `ip link add type veth failed: ${describeFailure(err)}`;
  } finally {
    ipQuiet(['netns', 'del', ns]);
  }
  return undefined;
}

export interface NetnsLink {
  /** Name of the namespace, e.g. hmcp-12345. */
  namespace: string;
  /** The veth end in the root namespace. */
  hostInterface: string;
  /** The veth end inside the namespace. */
  namespaceInterface: string;
  /** Address of the root namespace's end, e.g. 10.213.48.229. */
  hostAddress: string;
  /** Address of the namespace's end, e.g. 10.213.48.230. */
  namespaceAddress: string;
  /** Takes the root namespace's end down: the cable is pulled. */
  cut(): void;
  /** Brings it back up. */
  restore(): void;
  /** Deletes the namespace, the veth pair and the route; safe to call twice. */
  destroy(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what a killed earlier run left: its namespace, its veth and unused fallback routes. */
function sweepLeftovers(): void {
  for (const m of ip(['netns', 'list']).matchAll(/^hmcp-(\d+)(?:-(\d))?\b/gm)) {
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    ipQuiet(['netns', 'del', m[0]]);
    ipQuiet(['link', 'del', `hmcp${pid}${m[2] ?? ''}h`]);
  }
  const addresses = ip(['-4', '-o', 'addr', 'show']);
  for (const m of ip(['-4', 'route', 'show', 'type', 'unreachable']).matchAll(/^unreachable (10\.213\.(\d+)\.(\d+))\/30 metric 4242\b/gm)) {
    const [subnet, third, fourth] = [m[1]!, m[2]!, Number(m[3])];
    const used = [1, 2].some((d) => addresses.includes(` 10.213.${third}.${fourth + d}/30 `));
    if (!used) ipQuiet(['route', 'del', 'unreachable', `${subnet}/30`, 'metric', '4242']);
  }
}

/** The /30 for this run: derived from the process id, skipping any subnet already in use. */
function pickSubnet(): { host: string; inside: string; subnet: string } {
  const inUse = ip(['-4', '-o', 'addr', 'show']) + ip(['-4', 'route', 'show']);
  for (let i = 0; i < 64; i++) {
    const base = ((process.pid + i * 257) % 16384) * 4;
    const prefix = `10.213.${base >> 8}.`;
    const first = base & 255;
    if ([0, 1, 2, 3].some((d) => new RegExp(`\\b${prefix.replace(/\./g, '\\.')}${first + d}\\b`).test(inUse))) continue;
    return { subnet: `${prefix}${first}/30`, host: `${prefix}${first + 1}`, inside: `${prefix}${first + 2}` };
  }
  throw new Error('no free /30 in 10.213.0.0/16');
}

/**
 * Creates the namespace and the veth pair, addresses both ends and brings
 * them (and the namespace's loopback) up. While the link is cut, an
 * unreachable route for the /30 makes new connections fail at once instead of
 * leaking to the root namespace's default route. `node` (1-9) gives a process
 * more than one such node, each in its own namespace.
 */
export function createNetnsLink(node?: number): NetnsLink {
  const tag = node === undefined ? '' : String(node);
  const namespace = `hmcp-${process.pid}${tag ? `-${tag}` : ''}`;
  const hostInterface = `hmcp${process.pid}${tag}h`;
  const namespaceInterface = `hmcp${process.pid}${tag}n`;
  // A namespace left behind by an earlier process with the same id, or by killed runs.
  ipQuiet(['netns', 'del', namespace]);
  ipQuiet(['link', 'del', hostInterface]);
  sweepLeftovers();
  const { subnet, host, inside } = pickSubnet();
  const fallback = ['route', 'add', 'unreachable', subnet, 'metric', '4242'];
  let destroyed = false;
  const link: NetnsLink = {
    namespace,
    hostInterface,
    namespaceInterface,
    hostAddress: host,
    namespaceAddress: inside,
    cut: () => void ip(['link', 'set', hostInterface, 'down']),
    restore: () => void ip(['link', 'set', hostInterface, 'up']),
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      ipQuiet(['link', 'del', hostInterface]);
      ipQuiet(['netns', 'del', namespace]);
      ipQuiet(['route', 'del', 'unreachable', subnet, 'metric', '4242']);
    },
  };
  try {
    ip(['netns', 'add', namespace]);
    ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', namespaceInterface]);
    ip(['link', 'set', namespaceInterface, 'netns', namespace]);
    ip(['addr', 'add', `${host}/30`, 'dev', hostInterface]);
    ip(['link', 'set', hostInterface, 'up']);
    ip(['netns', 'exec', namespace, 'ip', 'addr', 'add', `${inside}/30`, 'dev', namespaceInterface]);
    ip(['netns', 'exec', namespace, 'ip', 'link', 'set', namespaceInterface, 'up']);
    ip(['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
    ip(fallback);
  } catch (err) {
    link.destroy();
    throw new Error(`cannot set up the network namespace ${namespace}: ${describeFailure(err)}`);
  }
  return link;
}

export interface NetnsProcessSpec {
  /** Shown in errors, e.g. "shard-traefik". */
  name: string;
  /** Entry point relative to the repository root, e.g. shard-traefik/src/main.ts. */
  entry: string;
  env: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface NetnsProcess {
  name: string;
  child: ChildProcess;
  /** What the component reported in its ready message, e.g. { grpc: "10.213.0.2:41234" }. */
  endpoints: Record<string, string>;
  /** The tail of its stdout and stderr, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LIMIT = 32 * 1024;

/** setpriv --pdeathsig (util-linux), when present: a component dies with the test process even if that is killed. */
const dieWithParent = (() => {
  try {
    return execFileSync('setpriv', ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('--pdeathsig') ? ['setpriv', '--pdeathsig', 'KILL'] : [];
  } catch {
    return [];
  }
})();

/**
 * Starts a component (TypeScript through tsx) inside the namespace and waits
 * for the ready message it sends over IPC once it listens.
 */
export function startInNetns(namespace: string, spec: NetnsProcessSpec): Promise<NetnsProcess> {
  // `ip netns exec` and setpriv exec node in place: the child's pid is node's and the IPC channel is inherited.
  const child = spawn('ip', ['netns', 'exec', namespace, ...dieWithParent, process.execPath, '--import', 'tsx', spec.entry], {
    cwd: repoRoot,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (graceMs = 3000) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await drain(exited, () => {
      child.kill('SIGKILL');
      return exited;
    }, graceMs);
  };
  const timeoutMs = spec.readyTimeoutMs ?? 30_000;
  return waitForReady(child, spec.name, timeoutMs).then(
    (endpoints) => ({ name: spec.name, child, endpoints, output: () => output, stop }),
    async (err: Error) => {
      await stop(0);
      throw new Error(`${err.message}\n${output}`);
    },
  );
}
