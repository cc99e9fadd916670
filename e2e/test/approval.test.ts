import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult, type ElicitResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startTraefikSim, type TraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { parseConfig as parseNavigatorConfig, startNavigator } from '@homelab-mcp/shard-traefik';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

// GATEWAY_APPROVAL=human against the real Navigator on the Traefik stand-in:
// the model gets a plan it cannot apply itself; a person approves it (in the
// client by elicitation, or in the console, where the gateway applies it) or
// rejects it, and every decision is audited with who made it.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('plans that a person must approve (GATEWAY_APPROVAL=human)', () => {
  let dir: string;
  let traefik: TraefikSim;
  let navigator: RunningShard;
  let gateway: Gateway;
  let reply: ElicitResult = { action: 'decline' };
  const clients: Client[] = [];

  const connect = async (elicitation = false) => {
    const client = new Client({ name: 'approval-test', version: '1.0.0' }, { capabilities: elicitation ? { elicitation: {} } : {} });
    if (elicitation) client.setRequestHandler(ElicitRequestSchema, () => reply);
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
    clients.push(client);
    return client;
  };
  const routeArgs = (name: string) => ({ name, hosts: [`${name}.home.lan`], tls: {}, service: { urls: ['http://127.0.0.1:9'] } });
  const call = async (client: Client, name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void) =>
    (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000, ...(onprogress ? { onprogress, resetTimeoutOnProgress: true } : {}) })) as CallToolResult;
  const routerServed = async (name: string) => (await fetch(`${traefik.apiUrl}/http/routers/${name}@file`)).status === 200;
  const written = () => readdirSync(traefik.dynamicDir).filter((f) => f.startsWith('mcp-'));
  const audit = () =>
    existsSync(join(dir, 'gateway', 'audit.log'))
      ? readFileSync(join(dir, 'gateway', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'approval-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-traefik']);
    traefik = await startTraefikSim({ dynamicDir: join(dir, 'dynamic'), throttleMs: 100 });
    const nav = pki.shardTls('shard-traefik');
    navigator = await startNavigator(
      parseNavigatorConfig({ SHARD_LISTEN: '127.0.0.1:0', SHARD_TLS_CA: nav.caFile, SHARD_TLS_CERT: nav.certFile, SHARD_TLS_KEY: nav.keyFile, TRAEFIK_API: traefik.apiUrl, TRAEFIK_DYNAMIC_DIR: traefik.dynamicDir, TRAEFIK_CONFIRM_TIMEOUT_MS: '10000' }),
      logger,
    );
    // A saturated test machine answers pings late: the longer keepalive timeout keeps the shard link through it (README: raise it on such hosts).
    const env = { ...pki.gatewayEnv(join(dir, 'gateway')), SHARD_TRAEFIK_URL: `127.0.0.1:${navigator.port}`, GATEWAY_APPROVAL: 'human', GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000' };
    gateway = await startGateway(parseGatewayConfig(env), logger);
    await waitFor('the Navigator serving', () => gateway.shards().every((s) => s.state === 'serving'), 30_000);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await gateway?.close();
    await navigator?.close(0);
    await traefik?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('tells the model approval is pending, where and for how long, and refuses its own apply', async () => {
    const client = await connect();
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('await_approval');
    expect(client.getInstructions()).toMatch(/a person must approve it .* call await_approval/);
    expect(client.getInstructions()).not.toMatch(/apply it by calling the same tool/);
    const plan = await call(client, 'add_dynamic_config', routeArgs('alpha'));
    expect(plan.isError ?? false).toBe(false);
    const planId = (plan.structuredContent as { plan: { id: string } }).plan.id;
    expect(text(plan)).toMatch(/Approval pending: this gateway requires a person to approve every change \(GATEWAY_APPROVAL=human\)/);
    expect(text(plan)).toContain(`${gateway.url.replace(/\/mcp$/, '')}/console`);
    expect(text(plan)).toMatch(/until \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ min\)/);
    expect(text(plan)).toContain(`call await_approval with plan_id "${planId}"`);
    expect(plan._meta?.['homelab-mcp/approval']).toMatchObject({ status: 'pending', planId });

    const apply = await call(client, 'add_dynamic_config', { ...routeArgs('alpha'), plan_id: planId });
    expect(apply.isError).toBe(true);
    expect(text(apply)).toMatch(/^Refused: this gateway applies a change only after a person approves it \(GATEWAY_APPROVAL=human\)/);
    expect(text(apply)).toMatch(/is waiting for a person in the console/);
    expect(written()).toEqual([]);
    expect(audit()).toContainEqual(expect.objectContaining({ tool: 'add_dynamic_config', planId, result: 'refused', error: expect.stringContaining('only a person applies plans') }));
    // Still pending: the refused attempt did not use the plan up.
    expect(gateway.approvals!.get(planId)?.status).toBe('pending');
  });

  it('waits with progress until a person approves in the console, then the gateway applies the plan', async () => {
    const client = await connect();
    const plan = await call(client, 'add_dynamic_config', routeArgs('bravo'));
    const planId = (plan.structuredContent as { plan: { id: string } }).plan.id;
    const progress: Progress[] = [];
    const waiting = call(client, 'await_approval', { plan_id: planId, timeout_seconds: 120 }, (p) => progress.push(p));
    await waitFor('a progress report from await_approval', () => progress.length > 0);
    expect(progress[0]!.message).toMatch(/waiting for a person to approve plan .* in the console/);
    expect(written()).toEqual([]);

    const decided = await gateway.approvals!.approve(planId, 'console:owner', 'console');
    expect(decided.status).toBe('applied');
    const result = await waiting;
    expect(result.isError ?? false).toBe(false);
    expect(result.structuredContent).toMatchObject({ plan_id: planId, status: 'applied', decided_by: 'console:owner', via: 'console' });
    await waitFor('Traefik serving the bravo router', () => routerServed('bravo'));

    const lines = audit().filter((l) => l.planId === planId);
    expect(lines).toContainEqual(expect.objectContaining({ result: 'approved', approver: 'console:owner', via: 'console', tool: 'add_dynamic_config' }));
    expect(lines).toContainEqual(expect.objectContaining({ result: 'applied', approver: 'console:owner', via: 'console' }));
    // The model's own attempt afterwards is still refused, and says what happened.
    const again = await call(client, 'add_dynamic_config', { ...routeArgs('bravo'), plan_id: planId });
    expect(text(again)).toMatch(/was approved by console:owner \(console\) and already applied/);
  });

  it('records who rejected a plan and why, writes nothing, and tells the waiting model', async () => {
    const client = await connect();
    const plan = await call(client, 'add_dynamic_config', routeArgs('charlie'));
    const planId = (plan.structuredContent as { plan: { id: string } }).plan.id;
    const waiting = call(client, 'await_approval', { plan_id: planId });
    await waitFor('the wait to begin', () => gateway.approvals!.listenerCount('changed') > 0);
    gateway.approvals!.reject(planId, 'console:owner', 'console', 'charlie is not ours');
    const result = await waiting;
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ status: 'rejected', decided_by: 'console:owner', reason: 'charlie is not ours' });
    expect(text(result)).toMatch(/rejected by console:owner \(console\): charlie is not ours\. Nothing was applied/);
    const apply = await call(client, 'add_dynamic_config', { ...routeArgs('charlie'), plan_id: planId });
    expect(text(apply)).toMatch(/rejected by console:owner \(console\): charlie is not ours\. It can never be applied/);
    expect(written().some((f) => f.includes('charlie'))).toBe(false);
    expect(await routerServed('charlie')).toBe(false);
    expect(audit()).toContainEqual(expect.objectContaining({ planId, result: 'rejected', approver: 'console:owner', via: 'console', reason: 'charlie is not ours' }));
    // A decided plan cannot be decided again.
    await expect(gateway.approvals!.approve(planId, 'console:owner', 'console')).rejects.toThrow(/already rejected by console:owner/);
  });

  it("lets the client's user approve by elicitation, and audits them as the approver", async () => {
    const client = await connect(true);
    reply = { action: 'accept', content: { apply: true } };
    const result = await call(client, 'add_dynamic_config', routeArgs('delta'));
    expect(result.isError ?? false).toBe(false);
    expect(result.structuredContent).toMatchObject({ applied: true });
    await waitFor('Traefik serving the delta router', () => routerServed('delta'));
    const planId = (result.structuredContent as { plan?: { id: string } }).plan?.id ?? (audit().find((l) => l.result === 'approved' && l.via === 'elicitation')?.planId as string);
    const record = gateway.approvals!.get(planId)!;
    expect(record).toMatchObject({ status: 'applied', decision: { via: 'elicitation', by: expect.stringMatching(/^token:/) } });
    expect(audit()).toContainEqual(expect.objectContaining({ planId, result: 'approved', via: 'elicitation', approver: record.subject }));
  });

  it("takes the client's user's no as a rejection, and a dismissed question leaves the plan to the console", async () => {
    const client = await connect(true);
    reply = { action: 'decline' };
    const declined = await call(client, 'add_dynamic_config', routeArgs('echo'));
    expect(text(declined)).toMatch(/The user rejected the change; nothing was applied/);
    const declinedId = (declined.structuredContent as { plan: { id: string } }).plan.id;
    expect(gateway.approvals!.get(declinedId)).toMatchObject({ status: 'rejected', decision: { via: 'elicitation', reason: 'declined in the client' } });

    reply = { action: 'cancel' };
    const dismissed = await call(client, 'add_dynamic_config', routeArgs('foxtrot'));
    expect(text(dismissed)).toMatch(/did not answer the question in the client; the plan now waits in the gateway's console/);
    const dismissedId = (dismissed.structuredContent as { plan: { id: string } }).plan.id;
    expect(gateway.approvals!.get(dismissedId)?.status).toBe('pending');
    expect(written().some((f) => /echo|foxtrot/.test(f))).toBe(false);
  });
});
