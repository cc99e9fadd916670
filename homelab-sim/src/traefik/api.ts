import type { IncomingMessage, ServerResponse } from 'node:http';
import { entryPointItems, homelabEntryPoints } from './entry-points.js';
import type { Runtime } from './runtime.js';

type Item = { name: string; status?: string; [k: string]: unknown };

/** Traefik's writeError: JSON body, but sent with http.Error, so text/plain. */
function writeError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${JSON.stringify({ message })}\n`);
}

function writeJson(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function notFoundPage(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end('404 page not found\n');
}

function positive(q: URLSearchParams, key: string, fallback: number): number | undefined {
  const raw = q.get(key);
  if (raw === null) return fallback;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : 0;
  return n > 0 ? n : undefined;
}

/** Lists: filters, sorting and paging as pkg/api/criterion.go and sort.go do it. */
function writeList(res: ServerResponse, q: URLSearchParams, items: Item[], fields: { search: (i: Item) => string[] }): void {
  const search = q.get('search')?.toLowerCase() ?? '';
  const status = q.get('status')?.toLowerCase() ?? '';
  const serviceName = q.get('serviceName') ?? '';
  const middlewareName = q.get('middlewareName') ?? '';
  let list = items.filter((i) => {
    if (search && !fields.search(i).some((s) => s.toLowerCase().includes(search))) return false;
    if (status && String(i.status ?? '').toLowerCase() !== status) return false;
    if (serviceName) {
      const svc = String(i.service ?? '');
      if (serviceName.includes('@') ? svc !== serviceName : svc.split('@')[0] !== serviceName) return false;
    }
    if (middlewareName && !((i.middlewares as string[] | undefined) ?? []).includes(middlewareName)) return false;
    return true;
  });
  const sortBy = q.get('sortBy') ?? 'name';
  const desc = q.get('direction') === 'desc';
  list = [...list].sort((a, b) => String(a[sortBy] ?? '').localeCompare(String(b[sortBy] ?? '')) * (desc ? -1 : 1));
  const page = positive(q, 'page', 1);
  const perPage = positive(q, 'per_page', 100);
  if (page === undefined) return writeError(res, 400, `invalid request: page: ${Number(q.get('page')) || 0}`);
  if (perPage === undefined) return writeError(res, 400, `invalid request: per_page: ${Number(q.get('per_page')) || 0}`);
  const start = (page - 1) * perPage;
  if (start >= list.length && !(page === 1 && list.length === 0)) return writeError(res, 400, `invalid request: page: ${page}, per_page: ${perPage}`);
  const end = start + perPage;
  writeJson(res, list.slice(start, end), { 'X-Next-Page': String(end < list.length ? page + 1 : 1) });
}

function bare(map: Map<string, object>): Record<string, unknown> {
  return Object.fromEntries([...map].map(([k, v]) => {
    const { name: _n, provider: _p, ...rest } = v as Record<string, unknown>;
    return [k, rest];
  }));
}

function counts(map: Map<string, Item>) {
  const all = [...map.values()];
  return { total: all.length, warnings: all.filter((i) => i.status === 'warning').length, errors: all.filter((i) => i.status === 'disabled').length };
}

/** The /api routes of Traefik v3.7 over a runtime view. */
export function createApiHandler(getRuntime: () => Runtime, basePath = '/api') {
  const started = new Date().toISOString();
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://traefik');
    if (!url.pathname.startsWith(`${basePath}/`)) return notFoundPage(res);
    // The router is built with UseEncodedPath: split on raw slashes, then unescape each segment.
    const raw = url.pathname.slice(basePath.length + 1).split('/');
    let parts: string[];
    try {
      parts = raw.map((p) => decodeURIComponent(p));
    } catch {
      return writeError(res, 400, `unable to decode routerID "${raw.at(-1) ?? ''}"`);
    }
    const rt = getRuntime();
    const lists: Record<string, Map<string, Item>> = {
      'http/routers': rt.routers as unknown as Map<string, Item>,
      'http/services': rt.services as unknown as Map<string, Item>,
      'http/middlewares': rt.middlewares as unknown as Map<string, Item>,
      'tcp/routers': rt.tcpRouters as unknown as Map<string, Item>,
      'tcp/services': rt.tcpServices as unknown as Map<string, Item>,
      'tcp/middlewares': new Map(),
      'udp/routers': rt.udpRouters as unknown as Map<string, Item>,
      'udp/services': rt.udpServices as unknown as Map<string, Item>,
    };
    const known = ['version', 'overview', 'rawdata', 'entrypoints', 'certificates'].includes(parts[0] ?? '') || `${parts[0]}/${parts[1]}` in lists;
    if (!known || parts.length > 3) return notFoundPage(res);
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    const q = url.searchParams;
    switch (parts[0]) {
      case 'version':
        return writeJson(res, { Version: '3.7.9', Codename: 'ramequin', startDate: started });
      case 'overview':
        return writeJson(res, {
          http: { routers: counts(lists['http/routers']!), services: counts(lists['http/services']!), middlewares: counts(lists['http/middlewares']!) },
          tcp: { routers: counts(lists['tcp/routers']!), services: counts(lists['tcp/services']!), middlewares: counts(new Map()) },
          udp: { routers: counts(lists['udp/routers']!), services: counts(lists['udp/services']!) },
          features: { tracing: '', metrics: '', accessLog: false },
          providers: ['Docker', 'File'],
        });
      case 'rawdata':
        // runtime.Configuration marshalled as is: keyed by name, without the name/provider fields the lists add.
        return writeJson(res, {
          routers: bare(rt.routers),
          middlewares: bare(rt.middlewares),
          services: bare(rt.services),
          ...(rt.tcpRouters.size ? { tcpRouters: bare(rt.tcpRouters) } : {}),
          ...(rt.tcpServices.size ? { tcpServices: bare(rt.tcpServices) } : {}),
          ...(rt.udpRouters.size ? { udpRouters: bare(rt.udpRouters) } : {}),
          ...(rt.udpServices.size ? { udpServices: bare(rt.udpServices) } : {}),
        });
      case 'entrypoints': {
        const eps = entryPointItems(rt.entryPoints ?? homelabEntryPoints()).sort((a, b) => a.name.localeCompare(b.name));
        if (parts[1] !== undefined) {
          const ep = eps.find((e) => e.name === parts[1]);
          return ep ? writeJson(res, ep) : writeError(res, 404, `entry point not found: ${parts[1]}`);
        }
        return writeList(res, q, eps, { search: (i) => [i.name] });
      }
      case 'certificates':
        return writeList(res, q, [], { search: (i) => [i.name] });
      default: {
        const key = `${parts[0]}/${parts[1]}`;
        const map = lists[key]!;
        const kind = parts[1] === 'routers' ? 'router' : parts[1] === 'services' ? 'service' : 'middleware';
        if (parts[2] !== undefined) {
          const item = map.get(parts[2]);
          return item ? writeJson(res, item) : writeError(res, 404, `${kind} not found: ${parts[2]}`);
        }
        return writeList(res, q, [...map.values()], { search: (i) => [i.name, String(i.rule ?? '')] });
      }
    }
  };
}
