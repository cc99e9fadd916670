import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guessLevel, homelabContainers, type SimContainer, type SimLogLine } from './data.js';

export { homelabContainers, type SimContainer } from './data.js';
export type { DozzleContainer } from '@homelab-mcp/upstream-types/dozzle.js';

export interface DozzleSimOptions {
  containers?: SimContainer[];
  /** DOZZLE_AUTH_PROVIDER: none (default), simple (POST /api/token) or forward-proxy (Remote-User). */
  auth?: { provider: 'none' } | { provider: 'simple'; username: string; password: string } | { provider: 'forward-proxy' };
  host?: string;
  port?: number;
}

export interface DozzleSim {
  /** e.g. http://127.0.0.1:1234/api (what DOZZLE_API takes). */
  url: string;
  containers: SimContainer[];
  /** Appends a line to a container's log (and to open streams). */
  appendLog(name: string, stream: 'stdout' | 'stderr', text: string): void;
  close(): Promise<void>;
}

const CSP = "default-src 'self' 'wasm-unsafe-eval' blob: https://cdn.jsdelivr.net https://*.duckdb.org; style-src 'self' 'unsafe-inline' blob:; img-src 'self' data:; font-src 'self' data:;";

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Security-Policy': CSP, 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${text}\n`);
}

function sseHeaders(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-transform, no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
}

function logEvent(c: SimContainer, l: SimLogLine): Record<string, unknown> {
  const json = /^\s*\{/.test(l.text) ? (() => { try { return JSON.parse(l.text) as unknown; } catch { return undefined; } })() : undefined;
  return {
    t: json ? 'complex' : 'single',
    m: json ?? l.text,
    rm: l.text,
    ts: l.ts,
    id: createHash('md5').update(`${l.ts}${l.text}`).digest().readUInt32BE(0),
    l: json && typeof (json as { level?: unknown }).level === 'string' ? (json as { level: string }).level : guessLevel(l.text),
    s: l.stream,
    c: c.container.id.slice(0, 12),
  };
}

/**
 * A Dozzle v10 stand-in: the routes the Watchman shard uses, with Dozzle's
 * statuses, error texts, SSE framing and auth modes.
 */
export async function startDozzleSim(opts: DozzleSimOptions = {}): Promise<DozzleSim> {
  const containers = opts.containers ?? homelabContainers();
  const auth = opts.auth ?? { provider: 'none' };
  const sessions = new Set<string>();
  const followers = new Set<{ id: string; write: (c: SimContainer, l: SimLogLine) => void }>();

  const find = (id: string) => containers.find((c) => c.container.id === id || c.container.id.startsWith(id));
  const authenticated = (req: IncomingMessage): boolean => {
    if (auth.provider === 'none') return true;
    if (auth.provider === 'forward-proxy') return Boolean(req.headers['remote-user']);
    const jwt = /(?:^|;\s*)jwt=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return jwt !== undefined && sessions.has(jwt);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://dozzle');
    const path = url.pathname;
    if (path === '/healthcheck') return void res.writeHead(200).end();
    if (path === '/api/token' && req.method === 'POST' && auth.provider === 'simple') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('username') === auth.username && form.get('password') === auth.password) {
          const token = randomBytes(16).toString('hex');
          sessions.add(token);
          res.writeHead(200, { 'Set-Cookie': `jwt=${token}; Path=/; HttpOnly; SameSite=Lax` }).end();
        } else plain(res, 401, 'Unauthorized');
      });
      return;
    }
    if (path.startsWith('/api/') && !authenticated(req)) return plain(res, 401, 'Unauthorized');
    if (path === '/api/version') {
      res.writeHead(200, { 'Content-Security-Policy': CSP, 'Content-Type': 'text/html' });
      return void res.end('<pre>v10.7.3</pre>');
    }
    if (path === '/api/events/stream') {
      sseHeaders(res);
      res.write(`event: server-version\ndata: ${JSON.stringify({ version: 'v10.7.3' })}\n\n`);
      res.write(`event: containers-changed\ndata: ${JSON.stringify(containers.map((c) => c.container))}\n\n`);
      for (const c of containers) for (const s of c.container.stats.slice(-1)) res.write(`event: container-stat\ndata: ${JSON.stringify(s)}\n\n`);
      const ping = setInterval(() => res.write(':ping \n\n'), 5000);
      req.on('close', () => clearInterval(ping));
      return;
    }
    const m = /^\/api\/hosts\/([^/]+)\/containers\/([^/]+)\/logs(\/stream)?$/.exec(path);
    if (m && req.method === 'GET') {
      const q = url.searchParams;
      if (!q.has('stdout') && !q.has('stderr')) return plain(res, 400, 'stdout or stderr is required');
      const c = find(decodeURIComponent(m[2] ?? ''));
      if (!c || c.container.host !== m[1]) return plain(res, 404, 'error finding container');
      let filter: RegExp | undefined;
      try {
        filter = q.get('filter') ? new RegExp(q.get('filter') ?? '', 'i') : undefined;
      } catch {
        return plain(res, 400, 'invalid filter');
      }
      const levels = q.getAll('levels');
      const inverse = q.get('inverse') === 'true';
      const keep = (l: SimLogLine) => {
        if (!((l.stream === 'stdout' && q.has('stdout')) || (l.stream === 'stderr' && q.has('stderr')))) return false;
        if (filter && filter.test(l.text) === inverse) return false;
        if (m[3] || !q.has('everything')) {
          if (levels.length && !levels.includes(guessLevel(l.text))) return false;
        }
        return true;
      };
      if (m[3]) {
        sseHeaders(res);
        res.write(':ping \n\n');
        const follower = {
          id: c.container.id,
          write: (fc: SimContainer, l: SimLogLine) => {
            if (keep(l)) res.write(`data: ${JSON.stringify(logEvent(fc, l))}\nid: ${l.ts}\n\n`);
          },
        };
        followers.add(follower);
        req.on('close', () => followers.delete(follower));
        return;
      }
      const from = q.has('everything') || !q.get('from') ? -Infinity : Date.parse(q.get('from') ?? '');
      const to = q.has('everything') || !q.get('to') ? Infinity : Date.parse(q.get('to') ?? '');
      const selected = c.logs.filter((l) => l.ts >= from && l.ts <= to && keep(l));
      if (req.headers.accept === 'text/plain') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
        return void res.end(selected.map((l) => `${l.text}\n`).join(''));
      }
      res.writeHead(200, { 'Content-Type': 'application/x-jsonl; charset=UTF-8' });
      return void res.end(selected.map((l) => `${JSON.stringify(logEvent(c, l))}\n`).join(''));
    }
    plain(res, 404, '404 page not found');
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/api`,
    containers,
    appendLog: (name, stream, text) => {
      const c = containers.find((x) => x.container.name === name);
      if (!c) throw new Error(`no container ${name}`);
      const line = { ts: Date.now(), stream, text };
      c.logs.push(line);
      for (const f of followers) if (f.id === c.container.id) f.write(c, line);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
