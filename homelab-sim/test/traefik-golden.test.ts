import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createApiHandler } from '../src/traefik/api.js';
import type { Runtime } from '../src/traefik/runtime.js';

// Traefik's own API handler tests (pkg/api/handler_*_test.go) compare response
// bodies to these golden files. Each case here builds the runtime the golden
// file describes and asks the stand-in the request of that test.
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'upstream', 'traefik', 'api-testdata');
const golden = (file: string): unknown => JSON.parse(readFileSync(join(GOLDEN, file), 'utf8'));

type Kind = 'routers' | 'services' | 'middlewares' | 'tcpRouters' | 'tcpServices' | 'udpRouters' | 'udpServices';
const KINDS: { prefix: string; path: string; kind: Kind; single: string }[] = [
  { prefix: 'routers', path: 'http/routers', kind: 'routers', single: 'router' },
  { prefix: 'services', path: 'http/services', kind: 'services', single: 'service' },
  { prefix: 'middlewares', path: 'http/middlewares', kind: 'middlewares', single: 'middleware' },
  { prefix: 'tcprouters', path: 'tcp/routers', kind: 'tcpRouters', single: 'tcprouter' },
  { prefix: 'tcpservices', path: 'tcp/services', kind: 'tcpServices', single: 'tcpservice' },
  { prefix: 'udprouters', path: 'udp/routers', kind: 'udpRouters', single: 'udprouter' },
  { prefix: 'udpservices', path: 'udp/services', kind: 'udpServices', single: 'udpservice' },
];

function runtimeOf(kind: Kind, items: { name: string }[]): Runtime {
  const rt: Runtime = { routers: new Map(), services: new Map(), middlewares: new Map(), tcpRouters: new Map(), tcpServices: new Map(), udpRouters: new Map(), udpServices: new Map() };
  for (const item of items) (rt[kind] as Map<string, unknown>).set(item.name, item);
  return rt;
}

let server: Server | undefined;
async function serveApi(rt: Runtime): Promise<string> {
  server = createServer(createApiHandler(() => rt));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('Traefik stand-in answers like Traefik for the configurations of its golden files', () => {
  it.each(KINDS)('GET /api/$path lists every object, sorted by name, as $prefix.json', async ({ prefix, path, kind }) => {
    const items = golden(`${prefix}.json`) as { name: string }[];
    // Inserted in reverse: the order in the answer comes from the stand-in's sorting.
    const api = await serveApi(runtimeOf(kind, [...items].reverse()));
    const res = await fetch(`${api}/${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-next-page')).toBe('1');
    expect(await res.json()).toEqual(items);
  });

  it.each([
    ['router-bar.json', 'routers', 'http/routers'],
    ['router-baz-custom-tls-options.json', 'routers', 'http/routers'],
    ['router-baz-default-tls-options.json', 'routers', 'http/routers'],
    ['router-foo-slash-bar.json', 'routers', 'http/routers'],
    ['service-bar.json', 'services', 'http/services'],
    ['service-foo-slash-bar.json', 'services', 'http/services'],
    ['middleware-auth.json', 'middlewares', 'http/middlewares'],
    ['middleware-foo-slash-bar.json', 'middlewares', 'http/middlewares'],
    ['tcprouter-bar.json', 'tcpRouters', 'tcp/routers'],
    ['tcprouter-foo-slash-bar.json', 'tcpRouters', 'tcp/routers'],
    ['tcpservice-bar.json', 'tcpServices', 'tcp/services'],
    ['tcpservice-foo-slash-bar.json', 'tcpServices', 'tcp/services'],
    ['udprouter-bar.json', 'udpRouters', 'udp/routers'],
    ['udprouter-foo-slash-bar.json', 'udpRouters', 'udp/routers'],
    ['udpservice-bar.json', 'udpServices', 'udp/services'],
    ['udpservice-foo-slash-bar.json', 'udpServices', 'udp/services'],
  ] as [string, Kind, string][])('GET one object by its escaped id answers %s', async (file, kind, path) => {
    const item = golden(file) as { name: string };
    const api = await serveApi(runtimeOf(kind, [item, { name: 'zzz@other', provider: 'other', status: 'enabled' } as { name: string }]));
    // Ids with a slash are sent escaped (foo%20%2F%20bar@myprovider), as Traefik's tests do.
    const res = await fetch(`${api}/${path}/${encodeURIComponent(item.name).replace(/%40/g, '@')}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(item);
  });

  it.each([
    ['services-page2.json', 'services', 'http/services', 'services.json'],
    ['middlewares-page2.json', 'middlewares', 'http/middlewares', 'middlewares.json'],
  ] as [string, Kind, string, string][])('pages like Traefik: %s with X-Next-Page 3', async (file, kind, path, all) => {
    const api = await serveApi(runtimeOf(kind, golden(all) as { name: string }[]));
    const res = await fetch(`${api}/${path}?page=2&per_page=1`);
    expect(res.headers.get('x-next-page')).toBe('3');
    expect(await res.json()).toEqual(golden(file));
  });

  it.each([
    ['tcprouters-filtered-status.json', 'tcpRouters', 'tcp/routers', 'tcprouters.json'],
    ['tcpservices-filtered-status.json', 'tcpServices', 'tcp/services', 'tcpservices.json'],
    ['udprouters-filtered-status.json', 'udpRouters', 'udp/routers', 'udprouters.json'],
    ['udpservices-filtered-status.json', 'udpServices', 'udp/services', 'udpservices.json'],
  ] as [string, Kind, string, string][])('filters by status like Traefik: %s', async (file, kind, path, all) => {
    const api = await serveApi(runtimeOf(kind, golden(all) as { name: string }[]));
    const res = await fetch(`${api}/${path}?status=enabled`);
    expect(await res.json()).toEqual(golden(file));
  });

  it('answers the error cases of the same tests: a page past the end is 400, an unknown id 404, both text/plain JSON', async () => {
    const api = await serveApi(runtimeOf('routers', golden('routers.json') as { name: string }[]));
    const past = await fetch(`${api}/http/routers?page=2&per_page=10`);
    expect(past.status).toBe(400);
    expect(past.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await past.json()).toEqual({ message: 'invalid request: page: 2, per_page: 10' });
    const unknown = await fetch(`${api}/http/routers/foo@myprovider`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: 'router not found: foo@myprovider' });
    const noEntryPoint = await fetch(`${api}/entrypoints/foo`);
    expect(noEntryPoint.status).toBe(404);
  });
});
