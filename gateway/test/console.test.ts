import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, waitServing } from './support/test-pki.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

// The console's HTTP face without a browser: sign-in, cookie, CSRF, the
// Host/Origin guard, the security headers, and plan decisions.
describe('the console at /console', () => {
  let dir: string;
  let kitchen: KitchenSinkControl;
  let gateway: Gateway;
  let base: string;
  let client: Client;

  const signIn = async (token: string | undefined, name = 'alex') => {
    const res = await fetch(`${base}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, name }) });
    const body = (await res.json()) as { csrf: string; approver: string; error?: string };
    return { res, body, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]! };
  };
  const plan = async (value: string) => {
    const result = (await client.callTool({ name: 'change', arguments: { value } })) as CallToolResult;
    return (result.structuredContent as { plan: { id: string } }).plan.id;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-console-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
    // A saturated test machine answers pings late: the longer keepalive timeout keeps the shard link through it (README: raise it on such hosts).
    // The nodes directory of a deployment, its file not written yet.
    mkdirSync(join(dir, 'nodes'));
    const env = { ...pki.gatewayEnv(join(dir, 'data')), SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`, GATEWAY_APPROVAL: 'human', GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000', GATEWAY_CONFIG: join(dir, 'nodes', 'nodes.yaml') };
    gateway = await startGateway(parseGatewayConfig(env), logger);
    await waitServing(gateway);
    base = gateway.url.replace(/\/mcp$/, '');
    client = new Client({ name: 'console-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
  });

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await kitchen?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves its page with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${base}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).toContain('<script src="/console/console.js" defer></script>');
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]|on(click|load)=|https?:\/\/(?!127)/);
    expect((await fetch(`${base}/console/console.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/console`, { redirect: 'manual' })).headers.get('location')).toBe('/console/');
  });

  it('exchanges the gateway token for an httpOnly, SameSite=Strict session cookie, and refuses a wrong one', async () => {
    const wrong = await signIn('not-the-token');
    expect(wrong.res.status).toBe(401);
    expect(wrong.body.error).toMatch(/Sign-in refused: the bearer token is wrong/);
    expect(wrong.res.headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${base}/console/api/state`)).status).toBe(401);

    const ok = await signIn(gateway.token);
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('set-cookie')).toMatch(/^homelab_console=[\w-]{43}; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    expect(ok.body.approver).toMatch(/^alex \(token:[0-9a-f]{12}\)$/);
    const state = (await (await fetch(`${base}/console/api/state`, { headers: { cookie: ok.cookie } })).json()) as { approval: string; shards: { name: string; state: string; toolCount: number }[] };
    expect(state.approval).toBe('human');
    expect(state.shards).toEqual([expect.objectContaining({ name: 'kitchen', state: 'serving', toolCount: expect.any(Number) })]);
  });

  it('refuses a change without the CSRF token, and a foreign Origin before anything else', async () => {
    const { cookie, body } = await signIn(gateway.token);
    const id = await plan('csrf-less');
    const noCsrf = await fetch(`${base}/console/api/plans/${id}/approve`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: string }).error).toMatch(/missing or wrong CSRF token/);
    const foreign = await fetch(`${base}/console/api/plans/${id}/approve`, { method: 'POST', headers: { cookie, origin: 'https://evil.example', 'x-csrf-token': body.csrf, 'content-type': 'application/json' }, body: '{}' });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { message: string } }).error.message).toMatch(/Origin "https:\/\/evil.example" is not allowed/);
    expect(gateway.approvals!.get(id)?.status).toBe('pending');
    expect(kitchen.observations.applied).not.toContain('csrf-less');
  });

  it('approves a plan (the gateway applies it) and rejects another with the reason, both in the audit log', async () => {
    const { cookie, body } = await signIn(gateway.token, 'sam');
    const headers = { cookie, 'x-csrf-token': body.csrf, 'content-type': 'application/json' };
    const yes = await plan('console-yes');
    const approved = await fetch(`${base}/console/api/plans/${yes}/approve`, { method: 'POST', headers, body: '{}' });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ id: yes, status: 'applied', decision: { by: expect.stringMatching(/^sam \(token:/), via: 'console' } });
    expect(kitchen.observations.applied).toContain('console-yes');

    const no = await plan('console-no');
    const rejected = await fetch(`${base}/console/api/plans/${no}/reject`, { method: 'POST', headers, body: JSON.stringify({ reason: 'not today' }) });
    expect(await rejected.json()).toMatchObject({ status: 'rejected', decision: { reason: 'not today' } });
    expect(kitchen.observations.applied).not.toContain('console-no');
    const again = await fetch(`${base}/console/api/plans/${no}/approve`, { method: 'POST', headers, body: '{}' });
    expect(again.status).toBe(409);

    const audit = (await (await fetch(`${base}/console/api/audit?result=rejected`, { headers: { cookie } })).json()) as { entries: Record<string, unknown>[] };
    expect(audit.entries).toEqual([expect.objectContaining({ planId: no, result: 'rejected', approver: expect.stringMatching(/^sam /), via: 'console', reason: 'not today' })]);
    const found = (await (await fetch(`${base}/console/api/audit?q=${yes}`, { headers: { cookie } })).json()) as { entries: Record<string, unknown>[] };
    expect(found.entries.map((e) => e.result)).toEqual(['applied', 'approved', 'planned']);
  });

  it('streams the state as server-sent events, with a new plan as it arrives', async () => {
    const { cookie } = await signIn(gateway.token);
    const abort = new AbortController();
    const res = await fetch(`${base}/console/api/events`, { headers: { cookie }, signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let seen = '';
    const id = await plan('streamed');
    while (!seen.includes(id)) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toMatch(/^event: state\ndata: \{"approval":"human"/);
    abort.abort();
  });

  it('streams a node added to the gateway\'s shard file while the console is open', async () => {
    const { cookie } = await signIn(gateway.token);
    const abort = new AbortController();
    const res = await fetch(`${base}/console/api/events`, { headers: { cookie }, signal: abort.signal });
    const reader = res.body!.getReader();
    let seen = new TextDecoder().decode((await reader.read()).value);
    expect(seen).not.toContain('kitchen/attic');
    writeFileSync(join(dir, 'nodes', 'nodes.yaml'), `shards:\n  - { name: kitchen, instance: attic, url: 127.0.0.1:${kitchen.port} }\n`);
    while (!seen.includes('"name":"kitchen/attic"')) seen += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
  });
});
