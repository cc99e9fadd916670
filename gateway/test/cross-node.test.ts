import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway, type ShardStatus } from '../src/index.js';
import { createNetnsLink, netnsUnavailableReason, startInNetns, type NetnsLink, type NetnsProcess } from './support/netns.js';
import { createTestPki, type TestPki } from './support/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

// The gateway (this process, root namespace) and the Traefik shard (its own
// process in another network namespace) are two nodes joined by a veth pair:
// discovery, calls and mTLS cross a real link, which the test can cut.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const unavailable = netnsUnavailableReason();
const suite = unavailable ? describe.skip : describe;
if (unavailable) {
  // Jest prints no titles for a file whose tests are all skipped: this one says why they are.
  describe('cross-node proof', () => {
    it(`is skipped: it needs root and iproute2 network namespaces (${unavailable})`, () => {
      expect(unavailable).toBeTruthy();
    });
  });
}
const TRAEFIK_TOOLS = ['get_routes', 'add_dynamic_config', 'remove_dynamic_config', 'list_dynamic_configs', 'check_ssl_status'];


function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

suite('gateway and Traefik shard on two network namespaces joined by a veth pair', () => {
  let dir: string;
  let pki: TestPki;
  let link: NetnsLink | undefined;
  const processes: NetnsProcess[] = [];
  let gateway: Gateway | undefined;
  let client: Client | undefined;
  const listChanges: number[] = [];

  const gw = () => gateway!;
  const mcp = () => client!;
  const shard = (name: string): ShardStatus => gw().shards().find((s) => s.name === name)!;
  const listed = () => gw().tools().map((t) => t.name);
  const toolNames = async () => (await mcp().listTools()).tools.map((t) => t.name);
  const call = (name: string, args: Record<string, unknown> = {}) => mcp().callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const start = async (...args: Parameters<typeof startInNetns>) => {
    const p = await startInNetns(...args);
    processes.push(p);
    return p;
  };
  /** Resolves as soon as a tools/list change makes `done` true (no polling delay in the measurement). */
  const toolsChangeUntil = async (what: string, done: () => boolean, timeoutMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${JSON.stringify(gw().shards(), null, 2)}`)), timeoutMs);
    });
    try {
      while (!done()) await Promise.race([gw().nextToolsChange(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
  const diagnostics = () => processes.map((p) => `--- ${p.name}\n${p.output()}`).join('\n');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-cross-node-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-traefik', 'shard-dozzle']);
    // Another CA that issued a certificate naming shard-traefik.
    const rogue = await createTestPki(join(dir, 'rogue-pki'), ['gateway', 'shard-traefik']);
    // The rogue trusts both CAs, so only the gateway's check can refuse it.
    const rogueTrust = join(dir, 'rogue-trust.pem');
    writeFileSync(rogueTrust, readFileSync(rogue.caFile, 'utf8') + readFileSync(pki.caFile, 'utf8'));

    link = createNetnsLink();
    const ns = link.namespace;
    const sim = await start(ns, {
      name: 'homelab-sim (traefik)',
      entry: 'homelab-sim/src/main.ts',
      env: { HOMELAB_SIM_ONLY: 'traefik', HOMELAB_SIM_DIR: join(dir, 'sim'), HOMELAB_SIM_LOG_LEVEL: 'warn' },
    });
    const traefikEnv = (dynamicDir: string) => ({
      LOG_LEVEL: 'warn',
      SHARD_LISTEN: `${link!.namespaceAddress}:0`,
      SHARD_ALLOWED_PEERS: 'gateway',
      TRAEFIK_API: sim.endpoints.traefikApi!,
      TRAEFIK_WEBSECURE_ADDRESS: sim.endpoints.traefikWebsecure!,
      TRAEFIK_DYNAMIC_DIR: dynamicDir,
    });
    const tlsEnv = (files: { caFile: string; certFile: string; keyFile: string }) => ({
      SHARD_TLS_CA: files.caFile,
      SHARD_TLS_CERT: files.certFile,
      SHARD_TLS_KEY: files.keyFile,
    });
    const [traefik, rogueCa, impostor] = await Promise.all([
      start(ns, { name: 'shard-traefik', entry: 'shard-traefik/src/main.ts', env: { ...traefikEnv(sim.endpoints.traefikDynamicDir!), ...tlsEnv(pki.shardTls('shard-traefik')) } }),
      start(ns, {
        name: 'shard-traefik with a certificate from another CA',
        entry: 'shard-traefik/src/main.ts',
        env: { ...traefikEnv(join(dir, 'rogue-dynamic')), ...tlsEnv({ ...rogue.shardTls('shard-traefik'), caFile: rogueTrust }) },
      }),
      start(ns, {
        name: 'shard-traefik with the shard-dozzle certificate',
        entry: 'shard-traefik/src/main.ts',
        env: { ...traefikEnv(join(dir, 'impostor-dynamic')), ...tlsEnv(pki.shardTls('shard-dozzle')) },
      }),
    ]);
    for (const p of [traefik, rogueCa, impostor]) expect(p.endpoints.grpc).toMatch(new RegExp(`^${link.namespaceAddress.replace(/\./g, '\\.')}:\\d+$`));

    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'data')),
        SHARD_TRAEFIK_URL: traefik.endpoints.grpc,
        // Both rogues sit where the gateway expects shard-traefik.
        SHARD_ROGUE_URL: rogueCa.endpoints.grpc,
        SHARD_ROGUE_IDENTITY: 'shard-traefik',
        SHARD_IMPOSTOR_URL: impostor.endpoints.grpc,
        SHARD_IMPOSTOR_IDENTITY: 'shard-traefik',
        GATEWAY_RECONNECT_INITIAL_MS: '100',
        GATEWAY_RECONNECT_MAX_MS: '500',
      }),
      logger,
    );
    try {
      await waitFor('the Traefik shard serving and both rogues refused', () =>
        shard('traefik').state === 'serving' && ['rogue', 'impostor'].every((n) => /certificate/i.test(shard(n).lastError ?? '')),
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${JSON.stringify(gw().shards(), null, 2)}\n${diagnostics()}`);
    }
    client = new Client({ name: 'cross-node-test', version: '1.0.0' });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanges.push(Date.now());
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw().url), { requestInit: { headers: { authorization: `Bearer ${gw().token}` } } }));
  }, 120_000);

  afterAll(async () => {
    try {
      link?.restore();
    } catch {
      // the namespace may never have been set up
    }
    await client?.close().catch(() => undefined);
    await gateway?.close().catch(() => undefined);
    await Promise.allSettled(processes.map((p) => p.stop()));
    link?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('lists the Traefik tools and calls get_routes across the link over mTLS', async () => {
    await waitFor('the Traefik shard serving', () => shard('traefik').state === 'serving');
    const names = await toolNames();
    expect(names).toEqual(expect.arrayContaining(['homelab_status', ...TRAEFIK_TOOLS]));
    const traefik = shard('traefik');
    expect(traefik).toMatchObject({ state: 'serving', address: expect.stringMatching(new RegExp(`^${link!.namespaceAddress.replace(/\./g, '\\.')}:`)), identity: 'shard-traefik' });
    // Set only when the shard's certificate passed the identity check.
    expect(traefik.certificateExpiresAt).toBeInstanceOf(Date);

    const routes = await call('get_routes');
    expect(routes.isError).toBeFalsy();
    const content = routes.structuredContent as { routes: { name: string }[]; total: number };
    expect(content.total).toBeGreaterThan(0);
    expect(content.routes.map((r) => r.name)).toContain('gitea@docker');
  });

  it('refuses a shard whose certificate comes from another CA', async () => {
    const rogue = shard('rogue');
    expect(['unreachable', 'failed']).toContain(rogue.state);
    expect(rogue.lastError).toMatch(/certificate/i);
    // Never reflected: no contract, no tools, no accepted certificate.
    expect(rogue).toMatchObject({ toolCount: 0, services: [] });
    expect(rogue.descriptorHash).toBeUndefined();
    expect(rogue.certificateExpiresAt).toBeUndefined();
    const names = await toolNames();
    expect(names.filter((n) => n.startsWith('rogue'))).toEqual([]);
    // The Traefik tools were never renamed around a colliding twin.
    expect(names.filter((n) => /_get_routes$/.test(n))).toEqual([]);

    const status = await call('homelab_status');
    const shown = (status.structuredContent as { shards: { name: string; state: string; lastError?: string }[] }).shards.find((s) => s.name === 'rogue');
    expect(shown).toMatchObject({ state: expect.stringMatching(/^(unreachable|failed)$/), lastError: expect.stringMatching(/certificate/i) });
  });

  it("refuses a shard presenting another shard's identity from the same CA", async () => {
    const impostor = shard('impostor');
    expect(['unreachable', 'failed']).toContain(impostor.state);
    expect(impostor.lastError).toContain('its certificate names spiffe://homelab-mcp/shard-dozzle, expected spiffe://homelab-mcp/shard-traefik');
    expect(impostor).toMatchObject({ toolCount: 0, services: [] });
    expect(impostor.descriptorHash).toBeUndefined();
    expect(impostor.certificateExpiresAt).toBeUndefined();
    expect((await toolNames()).filter((n) => n.startsWith('impostor'))).toEqual([]);

    const status = await call('homelab_status');
    expect(text(status)).toMatch(/impostor \([^)]*shard-traefik\): (unreachable|failed) .*shard-dozzle/);
  });

  it('hides the Traefik tools within 1 s of the link being cut and lists them again once it is restored', async () => {
    await waitFor('the Traefik tools listed before the cut', () => TRAEFIK_TOOLS.every((n) => listed().includes(n)));
    const cutAt = Date.now();
    link!.cut();
    await toolsChangeUntil('the Traefik tools to leave tools/list', () => !listed().some((n) => TRAEFIK_TOOLS.includes(n)), 5000);
    const hiddenAfterMs = Date.now() - cutAt;
    await waitFor('tools/list_changed after the cut', () => listChanges.some((t) => t >= cutAt), 2000, 5);
    const notifiedAfterMs = listChanges.find((t) => t >= cutAt)! - cutAt;
    logger.info({ hiddenAfterMs, notifiedAfterMs }, 'Traefik tools hidden after the link was cut');
    expect(hiddenAfterMs).toBeLessThan(1000);
    expect(notifiedAfterMs).toBeLessThan(1000);

    expect(shard('traefik').state).toBe('unreachable');
    const names = await toolNames();
    expect(names).toContain('homelab_status');
    expect(names.filter((n) => TRAEFIK_TOOLS.includes(n))).toEqual([]);
    const status = await call('homelab_status');
    const shown = (status.structuredContent as { shards: { name: string; state: string }[] }).shards.find((s) => s.name === 'traefik');
    expect(shown?.state).toBe('unreachable');

    const restoredAt = Date.now();
    link!.restore();
    await toolsChangeUntil('the Traefik tools to return', () => TRAEFIK_TOOLS.every((n) => listed().includes(n)), 15_000);
    logger.info({ returnedAfterMs: Date.now() - restoredAt }, 'Traefik tools listed again after the link was restored');
    expect(await toolNames()).toEqual(expect.arrayContaining(TRAEFIK_TOOLS));
    const routes = await call('get_routes');
    expect(routes.isError).toBeFalsy();
    expect((routes.structuredContent as { total: number }).total).toBeGreaterThan(0);
    // The link coming back lets no rogue in.
    for (const n of ['rogue', 'impostor']) expect(shard(n)).toMatchObject({ toolCount: 0, services: [] });
  });
});
