import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, waitServing } from './support/test-pki.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('confirmation by elicitation when the client supports it', () => {
  let dir: string;
  let kitchen: KitchenSinkControl;
  let gateway: Gateway;
  const questions: string[] = [];
  let reply: ElicitResult = { action: 'decline' };

  const connect = async (elicitation: boolean) => {
    const client = new Client({ name: 'elicitation-test', version: '1.0.0' }, { capabilities: elicitation ? { elicitation: {} } : {} });
    if (elicitation) {
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        questions.push(request.params.message);
        return reply;
      });
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
    return client;
  };
  const change = async (client: Client, value: string) => (await client.callTool({ name: 'change', arguments: { value } })) as CallToolResult;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-elicit-'));
    const pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'data')),
        SHARD_KITCHEN_URL: `127.0.0.1:${kitchen.port}`,
      }),
      logger,
    );
    await waitServing(gateway);
  });

  afterAll(async () => {
    await gateway?.close();
    await kitchen?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks the user with the plan and applies on yes, in one call', async () => {
    const client = await connect(true);
    reply = { action: 'accept', content: { apply: true } };
    const asked = questions.length;
    const result = await change(client, 'confirmed');
    // Asked once: the apply that follows the yes is not asked about again.
    expect(questions.length - asked).toBe(1);
    expect(questions.at(-1)).toMatch(/change wants to make this change:[\s\S]*set value to confirmed[\s\S]*Apply it\?/);
    expect(result.isError).toBeFalsy();
    expect(text(result)).toMatch(/The user confirmed the plan; it was applied/);
    expect(result.structuredContent).toMatchObject({ applied: true, value: 'confirmed' });
    expect(kitchen.observations.applied).toContain('confirmed');
    // One call, two audit lines: the dry run, then the apply with the plan the user approved, its arguments as the shard got them.
    const audit = readFileSync(join(dir, 'data', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const applied = audit.find((l) => l.tool === 'change' && l.result === 'applied');
    expect(applied).toMatchObject({ arguments: { value: 'confirmed', plan_id: expect.any(String) }, planId: (applied?.arguments as { plan_id: string }).plan_id });
    expect(audit).toContainEqual(expect.objectContaining({ tool: 'change', result: 'planned', arguments: { value: 'confirmed' } }));
    await client.close();
  });

  it.each([
    ['declines', { action: 'decline' } as ElicitResult, /declined the change; nothing was applied/],
    ['accepts without ticking apply', { action: 'accept', content: { apply: false } } as ElicitResult, /declined the change/],
    ['dismisses the question', { action: 'cancel' } as ElicitResult, /did not confirm/],
  ])('changes nothing when the user %s, and leaves the plan for an explicit apply', async (_label, answer, message) => {
    const client = await connect(true);
    reply = answer;
    const value = `not-${questions.length}`;
    const result = await change(client, value);
    expect(result.isError).toBeFalsy();
    expect(text(result)).toMatch(message);
    expect(kitchen.observations.applied).not.toContain(value);
    const planId = (result.structuredContent as { plan: { id: string } }).plan.id;
    expect(text(result)).toContain(planId);
    expect(result._meta).toEqual({ 'homelab-mcp/confirmation': { answer: answer.action === 'cancel' ? 'unconfirmed' : 'declined', planId } });
    await client.close();
  });

  it('returns the plan for plan -> apply to a client that cannot be asked', async () => {
    const client = await connect(false);
    const asked = questions.length;
    const result = await change(client, 'manual');
    expect(questions.length).toBe(asked);
    expect(text(result)).toMatch(/This is a plan; nothing changed yet/);
    expect(kitchen.observations.applied).not.toContain('manual');
    await client.close();
  });
});
