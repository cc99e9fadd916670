import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startAuthentikSim, type AuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import { startTraefikSim, type TraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { parseConfig as parseNavigatorConfig, startNavigator } from '@homelab-mcp/shard-traefik';
import { parseConfig as parseGatekeeperConfig, startGatekeeper } from '@homelab-mcp/shard-authentik';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { connectClient } from '@homelab-mcp/gateway/testing/mcp-client.js';

import { waitFor } from '@homelab-mcp/component-kit';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

const textOf = (contents: object[]) => contents.map((c) => ('text' in c ? String(c.text) : '')).join('\n');

describe("the Navigator's and the Gatekeeper's resources, prompts and completions, through the gateway", () => {
  let dir: string;
  let traefik: TraefikSim;
  let authentik: AuthentikSim;
  let navigator: RunningShard;
  let gatekeeper: RunningShard;
  let gateway: Gateway;
  let client: Client;
  const updated: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'surface-ra-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-traefik', 'shard-authentik']);
    traefik = await startTraefikSim({ dynamicDir: join(dir, 'dynamic'), throttleMs: 100 });
    authentik = await startAuthentikSim({ extraApplications: 3 });
    const tokenFile = join(dir, 'ak-token');
    await writeFile(tokenFile, authentik.token, { mode: 0o600 });
    const nav = pki.shardTls('shard-traefik');
    navigator = await startNavigator(
      parseNavigatorConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: nav.caFile, SHARD_TLS_CERT: nav.certFile, SHARD_TLS_KEY: nav.keyFile, TRAEFIK_API: traefik.apiUrl, TRAEFIK_DYNAMIC_DIR: traefik.dynamicDir, TRAEFIK_WEBSECURE_ADDRESS: traefik.websecureAddress, TRAEFIK_CONFIRM_TIMEOUT_MS: '10000' }),
      logger,
    );
    const gk = pki.shardTls('shard-authentik');
    gatekeeper = await startGatekeeper(parseGatekeeperConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: gk.caFile, SHARD_TLS_CERT: gk.certFile, SHARD_TLS_KEY: gk.keyFile, AUTHENTIK_URL: authentik.url, AUTHENTIK_TOKEN_FILE: tokenFile }), logger);
    gateway = await startGateway(parseGatewayConfig({ ...pki.gatewayEnv(join(dir, 'gateway')), SHARD_TRAEFIK_URL: `127.0.0.1:${navigator.port}`, SHARD_AUTHENTIK_URL: `127.0.0.1:${gatekeeper.port}` }), logger);
    await waitFor('both shards serving', () => gateway.shards().every((s) => s.state === 'serving'), 30_000);
    client = await connectClient(gateway, 'surface-routes-apps', (uri) => void updated.push(uri));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await navigator?.close(0);
    await gatekeeper?.close(0);
    await traefik?.close();
    await authentik?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const addRoute = async (name: string, host: string) => {
    const args = { name, hosts: [host], tls: {}, service: { urls: ['http://127.0.0.1:9'] } };
    const plan = (await client.callTool({ name: 'add_dynamic_config', arguments: args })) as CallToolResult;
    expect(plan.isError ?? false).toBe(false);
    const planId = (plan.structuredContent as { plan: { id: string } }).plan.id;
    const applied = (await client.callTool({ name: 'add_dynamic_config', arguments: { ...args, plan_id: planId } })) as CallToolResult;
    expect(applied.structuredContent).toMatchObject({ applied: true });
  };

  it('lists the templates, the routes snapshot and the applications, and keeps their RPCs out of the tools', async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(['authentik://applications/{slug}', 'traefik://dynamic/{name}']);
    const { resources } = await client.listResources();
    expect(resources).toEqual(expect.arrayContaining([expect.objectContaining({ uri: 'traefik://routes', name: 'routes', mimeType: 'application/json' }), expect.objectContaining({ uri: 'authentik://applications/app-001', title: 'App 1' })]));
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['get_routes', 'list_applications']));
    expect(tools.filter((t) => /^(read_|complete_|list_dynamic_config_resources|list_application_resources|diagnose_service_prompt|expose_container)/.test(t))).toEqual([]);
  });

  it('reads the routes snapshot and an application', async () => {
    const snapshot = JSON.parse(textOf((await client.readResource({ uri: 'traefik://routes' })).contents)) as { routes: { name: string; hosts: string[] }[]; total: number };
    expect(snapshot.routes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'gitea@docker', hosts: ['gitea.home.lan'] })]));
    expect(snapshot.total).toBe(snapshot.routes.length);
    const app = JSON.parse(textOf((await client.readResource({ uri: 'authentik://applications/app-002' })).contents)) as Record<string, unknown>;
    expect(app).toMatchObject({ slug: 'app-002', name: 'App 2' });
    const missing = (await client.readResource({ uri: 'authentik://applications/nope' }).catch((e: unknown) => e)) as McpError;
    expect(missing).toBeInstanceOf(McpError);
    expect(missing.code).toBe(-32002);
    expect(missing.message).toMatch(/no Authentik application with slug "nope".*app-000, app-001, app-002/);
  });

  it('completes router names, hosts and application slugs from live data', async () => {
    const hosts = await client.complete({ ref: { type: 'ref/prompt', name: 'diagnose_service' }, argument: { name: 'host', value: 'gi' } });
    expect(hosts.completion.values).toEqual(['gitea.home.lan']);
    const routers = await client.complete({ ref: { type: 'ref/prompt', name: 'diagnose_service' }, argument: { name: 'router', value: 'who' } });
    expect(routers.completion.values).toEqual(['whoami@docker']);
    const slugs = await client.complete({ ref: { type: 'ref/resource', uri: 'authentik://applications/{slug}' }, argument: { name: 'slug', value: 'app-00' } });
    expect(slugs.completion).toMatchObject({ values: ['app-000', 'app-001', 'app-002'], total: 3, hasMore: false });
  });

  it('renders the diagnose and expose prompts from live routes', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['diagnose_service', 'expose_container']);
    const expose = prompts.find((p) => p.name === 'expose_container')!;
    expect(expose.arguments).toEqual([
      expect.objectContaining({ name: 'name', required: true }),
      expect.objectContaining({ name: 'host', required: true }),
      expect.objectContaining({ name: 'backend_url', required: true, description: expect.stringContaining('http://pinchflat:8945') }),
      expect.objectContaining({ name: 'protect', required: false }),
    ]);
    const diagnose = await client.getPrompt({ name: 'diagnose_service', arguments: { host: 'nextcloud.home.lan' } });
    expect(diagnose.messages[0]!.content).toMatchObject({ type: 'text', text: expect.stringContaining('No Traefik router names nextcloud.home.lan') });
    const gitea = await client.getPrompt({ name: 'diagnose_service', arguments: { host: 'gitea.home.lan' } });
    expect(gitea.messages[0]!.content).toMatchObject({ text: expect.stringMatching(/gitea@docker \(enabled\)[\s\S]*trace_request/) });
    const protectedApp = await client.getPrompt({ name: 'expose_container', arguments: { name: 'books', host: 'books.home.lan', backend_url: 'http://books:8080', protect: 'true' } });
    expect(protectedApp.messages[0]!.content).toMatchObject({ text: expect.stringMatching(/create_application[\s\S]*add_dynamic_config with name "books"/) });
    const taken = await client.getPrompt({ name: 'expose_container', arguments: { name: 'wiki', host: 'gitea.home.lan', backend_url: 'http://wiki:80' } });
    expect(taken.messages[0]!.content).toMatchObject({ text: expect.stringContaining('already use that name or host') });
    expect(taken.messages[0]!.content).not.toMatchObject({ text: expect.stringContaining('create_application') });
    const bad = (await client.getPrompt({ name: 'expose_container', arguments: { name: 'Not Valid', host: 'x.home.lan', backend_url: 'http://x' } }).catch((e: unknown) => e)) as McpError;
    expect(bad.message).toMatch(/name "Not Valid" must be lowercase letters, digits and dashes/);
  });

  it('lists, reads and watches the dynamic file a route was written to', async () => {
    await addRoute('surface', 'surface.home.lan');
    const uri = 'traefik://dynamic/surface';
    expect((await client.listResources()).resources).toEqual(expect.arrayContaining([expect.objectContaining({ uri, mimeType: 'application/yaml', name: 'mcp-surface.yml' })]));
    expect(textOf((await client.readResource({ uri })).contents)).toContain('Host(`surface.home.lan`)');
    const names = await client.complete({ ref: { type: 'ref/resource', uri: 'traefik://dynamic/{name}' }, argument: { name: 'name', value: 'sur' } });
    expect(names.completion.values).toEqual(['surface']);
    await client.subscribeResource({ uri });
    // The watch opens asynchronously; a change made after it is open is announced.
    let n = 0;
    await waitFor('an update for the rewritten file', async () => {
      await addRoute('surface', `surface${++n}.home.lan`);
      return updated.includes(uri);
    }, 60_000);
    expect(textOf((await client.readResource({ uri })).contents)).toContain(`Host(\`surface${n}.home.lan\`)`);
    await client.unsubscribeResource({ uri });
    const gone = (await client.readResource({ uri: 'traefik://dynamic/never-written' }).catch((e: unknown) => e)) as McpError;
    expect(gone.message).toMatch(/no dynamic configuration file for "never-written".*surface/);
  }, 90_000);
});
