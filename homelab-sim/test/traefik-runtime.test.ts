import { afterEach, describe, expect, it } from '@jest/globals';
import { dockerProviderConfig, startTraefikSim, type ProviderError, type TraefikSim } from '../src/traefik/index.js';

let sim: TraefikSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const get = async (path: string) => (await fetch(`${sim!.apiUrl}${path}`)).json() as Promise<Record<string, unknown>>;

describe('Traefik stand-in computes its runtime state like Traefik v3', () => {
  it('creates the redirection router of an entry point, and lists entry points with addresses and redirections', async () => {
    sim = await startTraefikSim({ providers: {}, containers: [] });
    const eps = (await get('/entrypoints')) as unknown as { name: string; address: string; http: Record<string, unknown> }[];
    expect(eps.find((e) => e.name === 'web')).toMatchObject({ address: ':80', http: { redirections: { entryPoint: { to: 'websecure', scheme: 'https', permanent: true } } } });
    expect(await get('/http/routers/web-to-websecure@internal')).toMatchObject({ rule: 'HostRegexp(`^.+$`)', entryPoints: ['web'], service: 'noop@internal', middlewares: ['redirect-web-to-websecure@internal'], priorityStr: '9223372036854775806', status: 'enabled' });
    expect(await get('/http/middlewares/redirect-web-to-websecure@internal')).toMatchObject({ redirectScheme: { scheme: 'https', port: '443', permanent: true } });
  });

  it('disables routers with Traefik\'s errors; a missing service hides a missing middleware; an unknown entry point only warns', async () => {
    sim = await startTraefikSim({
      providers: {
        myprovider: {
          http: {
            routers: {
              a: { rule: 'Host(`a`)', entryPoints: ['websecure'], service: 'nope', middlewares: ['gone'] },
              b: { rule: 'Host(`b`)', entryPoints: ['websecure'], service: 's', middlewares: ['gone', 'also-gone'] },
              c: { rule: 'Host(`c`)', entryPoints: ['websecure', 'metrics'], service: 's' },
              d: { rule: 'Host(`d`)', entryPoints: ['metrics'], service: 's' },
            },
            services: { s: { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } } },
          },
        },
      },
    });
    expect(await get('/http/routers/a@myprovider')).toMatchObject({ status: 'disabled', error: ['the service "nope@myprovider" does not exist'] });
    // alice builds the chain from its end, so the last missing middleware is the one named.
    expect(await get('/http/routers/b@myprovider')).toMatchObject({ status: 'disabled', error: ['middleware "also-gone@myprovider" does not exist'] });
    expect(await get('/http/routers/c@myprovider')).toMatchObject({ status: 'warning', error: ['entryPoint "metrics" doesn\'t exist'], using: ['websecure'], priorityStr: String('Host(`c`)'.length) });
    expect(await get('/http/routers/d@myprovider')).toMatchObject({ status: 'disabled', error: ['entryPoint "metrics" doesn\'t exist', 'no valid entryPoint for this router'] });
  });

  it('reports a server DOWN only under a health check, and a stopped container takes its routers with it', async () => {
    const labels = { 'traefik.http.routers.app.rule': 'Host(`app.lan`)', 'traefik.http.routers.app.entrypoints': 'websecure' };
    sim = await startTraefikSim({
      providers: {},
      containers: [{ name: 'app', state: 'running', ip: '172.20.0.2', ports: [8080, 22], labels }],
      serverHealth: { 'http://172.20.0.2:22': 'DOWN' },
    });
    // No health check: Traefik never probes, so the server is UP whatever the probe table says; the lowest port is taken.
    expect(await get('/http/services/app@docker')).toMatchObject({ serverStatus: { 'http://172.20.0.2:22': 'UP' } });
    expect(await get('/http/routers/app@docker')).toMatchObject({ service: 'app', status: 'enabled' });
    sim.setContainerState('app', 'exited');
    expect((await fetch(`${sim.apiUrl}/http/routers/app@docker`)).status).toBe(404);
    expect((await fetch(`${sim.apiUrl}/http/services/app@docker`)).status).toBe(404);
    sim.setContainerState('app', 'running', 'unhealthy');
    expect((await fetch(`${sim.apiUrl}/http/routers/app@docker`)).status).toBe(404);
  });

  it('merges containers as provider.Merge does: replicas share a service, a router defined differently twice is dropped, a container without a port is skipped', () => {
    const replica = (name: string, ip: string, host: string) => ({
      name, state: 'running', ip, ports: [3000],
      labels: { 'traefik.http.routers.web.rule': `Host(\`${host}\`)`, 'traefik.http.services.web.loadbalancer.server.port': '3000' },
    });
    const errors: ProviderError[] = [];
    const same = dockerProviderConfig([replica('web-1', '172.20.0.2', 'web.lan'), replica('web-2', '172.20.0.3', 'web.lan')], { errors });
    expect(same.http?.services?.web?.loadBalancer?.servers).toEqual([{ url: 'http://172.20.0.2:3000' }, { url: 'http://172.20.0.3:3000' }]);
    expect(same.http?.routers?.web).toMatchObject({ rule: 'Host(`web.lan`)', service: 'web' });
    expect(errors).toEqual([]);

    const differ = dockerProviderConfig([replica('web-1', '172.20.0.2', 'web.lan'), replica('copy', '172.20.0.4', 'copy.lan')], { errors });
    expect(differ.http?.routers?.web).toBeUndefined();
    expect(errors).toEqual([{ router: 'web', message: 'Router defined multiple times with different configurations in [copy web-1]' }]);

    errors.length = 0;
    const twoServices = { 'traefik.http.routers.ui.rule': 'Host(`ui.lan`)', 'traefik.http.services.api.loadbalancer.server.port': '9000', 'traefik.http.services.ui.loadbalancer.server.port': '9001' };
    const portless = { 'traefik.http.routers.bare.rule': 'Host(`bare.lan`)' };
    const dropped = dockerProviderConfig([
      { name: 'minio', state: 'running', ip: '172.20.0.5', ports: [9000, 9001], labels: twoServices },
      { name: 'bare', state: 'running', ip: '172.20.0.6', ports: [], labels: portless },
    ], { errors });
    expect(Object.keys(dropped.http?.routers ?? {})).toEqual([]);
    expect(Object.keys(dropped.http?.services ?? {}).sort()).toEqual(['api', 'ui']);
    expect(errors).toEqual([
      { container: 'minio', router: 'ui', message: 'Could not define the service name for the router: too many services' },
      { container: 'bare', message: 'service "bare" error: port is missing' },
    ]);
  });

  it('skips a container whose labels Traefik cannot decode, naming the node as paerser does; known keys of any case pass', () => {
    const errors: ProviderError[] = [];
    const labels = (extra: Record<string, string>) => ({ 'traefik.http.routers.app.rule': 'Host(`app.lan`)', 'traefik.http.services.app.loadbalancer.server.port': '80', ...extra });
    const conf = dockerProviderConfig([
      { name: 'typo', state: 'running', ip: '172.20.0.7', ports: [80], labels: labels({ 'traefik.http.routers.app.entrypoint': 'websecure' }) },
      { name: 'deep', state: 'running', ip: '172.20.0.8', ports: [80], labels: { 'traefik.http.services.deep.loadbalancer.healthcheck.pth': '/' } },
      { name: 'fine', state: 'running', ip: '172.20.0.9', ports: [80], labels: { 'traefik.http.routers.fine.Rule': 'Host(`fine.lan`)', 'traefik.http.routers.fine.EntryPoints': 'websecure', 'traefik.http.routers.fine.tls.domains[0].main': 'fine.lan', 'traefik.http.services.fine.loadbalancer.healthcheck.headers.X-Probe': '1' } },
    ], { errors });
    expect(errors).toEqual([{ container: 'typo', message: 'field not found, node: entrypoint' }, { container: 'deep', message: 'field not found, node: pth' }]);
    expect(Object.keys(conf.http?.routers ?? {})).toEqual(['fine']);
  });
});
