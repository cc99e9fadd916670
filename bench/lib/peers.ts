import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { buildComponents, distDir } from '@homelab-mcp/cli/build.js';
import { nodeFlagsFor } from '@homelab-mcp/cli/supervisor.js';
import type { Target } from './load.js';
import { childPids, type PathProcess } from './cpu.js';
import { startDirectServer, type DirectServer } from './direct-server.js';
import { getRoutesTool } from './work.js';

export interface Peers {
  direct: Target;
  proxy: Target;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url, { method: 'GET', signal: AbortSignal.timeout(500) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not come up within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * The comparison points of the benchmark, doing the same work as the shard tool:
 * a direct MCP SDK server (in a child process, like the gateway) and the proxy
 * a user would pick instead, `mcp-proxy`, in front of a stdio MCP server.
 */
export async function startPeers(upstreams: Record<string, string>, _logger: Logger, standIns: PathProcess[] = []): Promise<Peers> {
  const children: ChildProcess[] = [];
  const env = { ...process.env, ...upstreams };
  // Built like the gateway and shards they are compared with (no TypeScript loader in the process).
  const sources = { 'direct-main': fileURLToPath(new URL('../servers/direct-main.ts', import.meta.url)), 'stdio-main': fileURLToPath(new URL('../servers/stdio-main.ts', import.meta.url)) };
  const { bundles } = await buildComponents(sources, `${distDir}/bench`).catch(() => ({ bundles: sources }));
  const directPort = await freePort();
  const direct = spawn(process.execPath, [...nodeFlagsFor(bundles['direct-main']), bundles['direct-main']], {
    env: { ...env, BENCH_PORT: String(directPort) },
    // The IPC channel closes when the bench ends, however it ends; the server then exits.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(direct);
  const proxyPort = await freePort();
  const proxyArgs = [
    process.execPath,
    fileURLToPath(new URL('../../node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs', import.meta.url)),
    '--port', String(proxyPort), '--host', '127.0.0.1', '--server', 'stream', '--no-eventStore',
    '--', process.execPath, ...nodeFlagsFor(bundles['stdio-main']), bundles['stdio-main'],
  ];
  // mcp-proxy does not notice its parent going away: where setpriv exists, the kernel sends it SIGTERM then
  // (setpriv execs it, so the pid stays mcp-proxy's); its stdio server exits when its stdin closes.
  const withDeathSignal = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'TERM', ...proxyArgs] : proxyArgs;
  const proxy = spawn(withDeathSignal[0] ?? '', withDeathSignal.slice(1), { env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(proxy);
  await Promise.all([waitForHttp(`http://127.0.0.1:${directPort}/mcp`, 20_000), waitForHttp(`http://127.0.0.1:${proxyPort}/mcp`, 20_000)]);
  const { name, args } = getRoutesTool.sample;
  return {
    direct: {
      label: 'direct MCP server', url: `http://127.0.0.1:${directPort}/mcp`, tool: name, args,
      processes: () => [{ role: 'server', pid: direct.pid ?? 0 }, ...standIns],
    },
    proxy: {
      label: 'mcp-proxy + stdio', url: `http://127.0.0.1:${proxyPort}/mcp`, tool: name, args,
      // mcp-proxy starts the stdio server itself.
      processes: () => [{ role: 'mcp-proxy', pid: proxy.pid ?? 0 }, ...childPids(proxy.pid ?? 0).map((pid) => ({ role: 'stdio server', pid })), ...standIns],
    },
    close: async () => {
      for (const c of children) c.kill('SIGTERM');
    },
  };
}

export type { DirectServer };
export { startDirectServer };
