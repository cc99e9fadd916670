import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startAuthentikSim, type AccessTokenRequest, type AuthentikSim } from '@homelab-mcp/homelab-sim/authentik/index.js';
import { ConfigError, parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, type TestPki, waitServing } from './support/test-pki.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SLUG = 'homelab-mcp';
const CLIENT_ID = 'homelab-mcp-gateway';

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('OAuth 2.1 resource server with Authentik as the authorization server', () => {
  let dir: string;
  let pki: TestPki;
  let authentik: AuthentikSim;
  let kitchen: KitchenSinkControl;
  let gateway: Gateway;
  const clients: Client[] = [];

  const token = (scopes: string[], more: Partial<AccessTokenRequest> = {}) => authentik.issueAccessToken({ slug: SLUG, clientId: CLIENT_ID, scopes, ...more });
  const post = (headers: Record<string, string>, body: unknown = { jsonrpc: '2.0', id: 1, method: 'ping' }) =>
    fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
  const connect = async (accessToken: string) => {
    const client = new Client({ name: 'oauth-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } });
    await client.connect(transport);
    clients.push(client);
    return { client, sessionId: transport.sessionId! };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-oauth-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
    authentik = await startAuthentikSim();
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'data')),
        SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`,
        GATEWAY_AUTH: 'oauth',
        GATEWAY_OAUTH_ISSUER: authentik.oauthIssuer(SLUG),
        GATEWAY_OAUTH_AUDIENCE: CLIENT_ID,
        GATEWAY_RATE_LIMIT_PER_MINUTE: '60',
        GATEWAY_RATE_BURST: '20',
        GATEWAY_MAX_INFLIGHT_PER_SUBJECT: '2',
      }),
      logger,
    );
    await waitServing(gateway);
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await gateway?.close();
    await kitchen?.close();
    await authentik?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes RFC 9728 protected-resource metadata naming Authentik and the scopes', async () => {
    const url = new URL('/.well-known/oauth-protected-resource/mcp', gateway.url);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      resource: gateway.url,
      authorization_servers: [authentik.oauthIssuer(SLUG)],
      scopes_supported: ['homelab:read', 'homelab:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'homelab-mcp',
    });
  });

  it('answers a request without a token 401 with WWW-Authenticate pointing to that metadata', async () => {
    const res = await post({});
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`resource_metadata="${new URL('/.well-known/oauth-protected-resource/mcp', gateway.url).href}"`);
    expect(challenge).toContain('scope="homelab:read homelab:write"');
    expect(challenge).not.toContain('error=');
  });

  it.each([
    ['expired', { expiresInSeconds: -120 }, /expired/],
    ['for another audience', { clientId: 'some-other-app' }, /another audience/],
    ['from another issuer', { slug: 'other-provider' }, /another issuer/],
    ['signed with a key Authentik does not publish', { foreignKey: true }, /signature does not match/],
  ] as const)('refuses a token %s with invalid_token and a reason', async (_label, more, reason) => {
    const res = await post({ authorization: `Bearer ${await token(['homelab:read', 'homelab:write'], more)}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="[^"]+"/);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(reason);
  });

  it('refuses something that is not a JWT, and a token with no homelab scope (403 insufficient_scope)', async () => {
    const junk = await post({ authorization: 'Bearer not.a.jwt' });
    expect(junk.status).toBe(401);
    expect(((await junk.json()) as { error: { message: string } }).error.message).toMatch(/not a valid JWT/);
    const none = await post({ authorization: `Bearer ${await token(['openid', 'profile'])}` });
    expect(none.status).toBe(403);
    expect(none.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('lists only read tools for homelab:read and refuses a write tool called anyway, with an audit line', async () => {
    const { client } = await connect(await token(['homelab:read'], { subject: 'reader' }));
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['count', 'diagnose_service', 'echo', 'fail', 'homelab_status']);
    const echoed = (await client.callTool({ name: 'fail', arguments: { code: 0 } })) as CallToolResult;
    expect(echoed.isError).toBeFalsy();
    const refused = (await client.callTool({ name: 'change', arguments: { value: 'x' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/needs the homelab:write scope/);
    expect(kitchen.observations.subjects).not.toContain('oauth:reader');
    const audit = readFileSync(join(dir, 'data', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit).toContainEqual(expect.objectContaining({ subject: 'oauth:reader', tool: 'change', result: 'refused' }));
  });

  it("refuses the gateway's own tools to a token without homelab:read as it refuses shard tools, saying what to do, and counts it", async () => {
    const { client } = await connect(await token(['homelab:write'], { subject: 'writer-only' }));
    const refusedBefore = (await gateway.metrics.calls.get()).values.find((v) => v.labels.tool === 'homelab_status' && v.labels.outcome === 'refused')?.value ?? 0;
    for (const [name, args] of [['homelab_status', {}], ['diagnose_service', { service: 'gitea' }]] as const) {
      const refused = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect(text(refused)).toMatch(/needs the homelab:read scope; this caller has homelab:write\.\nWhat to do: use a token that grants homelab:read/);
      expect(refused._meta?.['homelab-mcp/error']).toEqual({ code: 'PERMISSION_DENIED', reason: 'MISSING_SCOPE', scope: 'homelab:read' });
    }
    const refusedAfter = (await gateway.metrics.calls.get()).values.find((v) => v.labels.tool === 'homelab_status' && v.labels.outcome === 'refused')?.value ?? 0;
    expect(refusedAfter - refusedBefore).toBe(1);
  });

  it('lets homelab:write plan and apply; the shard sees the subject, never the access token', async () => {
    const accessToken = await token(['homelab:read', 'homelab:write'], { subject: 'writer' });
    const { client } = await connect(accessToken);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('change');
    const planned = (await client.callTool({ name: 'change', arguments: { value: 'v1' } })) as CallToolResult;
    const planId = (planned.structuredContent as { plan: { id: string } }).plan.id;
    const applied = (await client.callTool({ name: 'change', arguments: { value: 'v1', plan_id: planId } })) as CallToolResult;
    expect(applied.structuredContent).toMatchObject({ applied: true, value: 'v1' });
    expect(kitchen.observations.subjects).toContain('oauth:writer');
    expect(kitchen.observations.metadataKeys).not.toContain('authorization');
    expect(JSON.stringify(kitchen.observations)).not.toContain(accessToken);
  });

  it('binds a session to its subject: another valid token cannot use it', async () => {
    const { sessionId } = await connect(await token(['homelab:read'], { subject: 'alice' }));
    const mallory = await post({ authorization: `Bearer ${await token(['homelab:read', 'homelab:write'], { subject: 'mallory' })}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(mallory.status).toBe(403);
    expect(((await mallory.json()) as { error: { message: string } }).error.message).toMatch(/belongs to another caller/);
  });

  it('limits each subject: 429 with Retry-After beyond the burst, others unaffected', async () => {
    const busy = `Bearer ${await token(['homelab:read'], { subject: 'busy' })}`;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 25; i++) {
      const res = await post({ authorization: busy });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.body?.cancel();
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(4);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const calm = await post({ authorization: `Bearer ${await token(['homelab:read'], { subject: 'calm' })}` });
    expect(calm.status).not.toBe(429);
  });

  it('caps requests in flight per subject', async () => {
    const { client } = await connect(await token(['homelab:read'], { subject: 'parallel' }));
    const slow = () => client.callTool({ name: 'count', arguments: { count: 2, interval: '0.5s' } });
    const outcomes = await Promise.allSettled([slow(), slow(), slow()]);
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBe(2);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(String(rejected.reason)).toMatch(/429|Too Many Requests/);
  });

  it('names the missing setting when oauth is configured half-way', () => {
    expect(() => parseGatewayConfig({ GATEWAY_AUTH: 'oauth', GATEWAY_PLAINTEXT_SHARDS: '1' })).toThrow(ConfigError);
    expect(() => parseGatewayConfig({ GATEWAY_AUTH: 'oauth' })).toThrow(/GATEWAY_OAUTH_ISSUER/);
    expect(() => parseGatewayConfig({ GATEWAY_AUTH: 'oauth', GATEWAY_OAUTH_ISSUER: 'https://auth.home.lan/application/o/x/' })).toThrow(/GATEWAY_OAUTH_AUDIENCE/);
  });
});
