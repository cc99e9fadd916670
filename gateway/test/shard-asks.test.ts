import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, type CallToolResult, type CreateMessageRequest, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startConformanceShard } from '@homelab-mcp/shard-kit/testing/conformance-shard.js';
import { parseGatewayConfig, startGateway, type Gateway } from '../src/index.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('a shard that asks the client mid-call, through the gateway', () => {
  let dir: string;
  let shard: Awaited<ReturnType<typeof startConformanceShard>>;
  const gateways: Gateway[] = [];
  const clients: Client[] = [];
  const elicited: ElicitRequest['params'][] = [];
  const sampled: CreateMessageRequest['params'][] = [];
  let reply: ElicitResult = { action: 'accept', content: { username: 'ada', email: 'ada@home.lan' } };

  const startWith = async (env: Record<string, string> = {}) => {
    const gateway = await startGateway(
      parseGatewayConfig({ GATEWAY_LISTEN: '127.0.0.1:0', GATEWAY_AUTH: 'none', GATEWAY_DATA_DIR: mkdtempSync(join(dir, 'gw-')), SHARD_CONFORMANCE_URL: `127.0.0.1:${shard.port}`, GATEWAY_PLAINTEXT_SHARDS: '1', ...env }),
      logger,
    );
    gateways.push(gateway);
    while (!gateway.tools().some((t) => t.name === 'test_elicitation')) await gateway.nextToolsChange();
    return gateway;
  };
  const connect = async (gateway: Gateway, capabilities: { elicitation?: Record<string, never>; sampling?: Record<string, never> }) => {
    const client = new Client({ name: 'asks', version: '1.0.0' }, { capabilities });
    if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, (r) => (elicited.push(r.params), reply));
    if (capabilities.sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, (r) => {
        sampled.push(r.params);
        return { role: 'assistant', content: { type: 'text', text: 'forty-two' }, model: 'test-model', stopReason: 'endTurn' };
      });
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-asks-'));
    shard = await startConformanceShard({ listen: { host: '127.0.0.1', port: 0, tls: 'plaintext' }, logger });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const g of gateways) await g.close();
    await shard?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the question and answer fields out of the tool schemas', async () => {
    const client = await connect(await startWith(), {});
    const tool = (await client.listTools()).tools.find((t) => t.name === 'test_elicitation')!;
    expect(Object.keys(tool.inputSchema.properties ?? {})).toEqual(['message']);
    const refused = (await client.callTool({ name: 'test_elicitation', arguments: { message: 'hi', answer: { id: 'x' } } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/answer/);
  });

  it('puts the question to the user and hands the shard the answer, accepted or declined', async () => {
    const client = await connect(gateways[0]!, { elicitation: {} });
    const accepted = (await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who are you?' } })) as CallToolResult;
    expect(elicited.at(-1)).toMatchObject({ message: 'Who are you?', requestedSchema: { required: ['username', 'email'] } });
    expect(text(accepted)).toContain('User response: action=accept, content={"username":"ada","email":"ada@home.lan"}');
    reply = { action: 'decline' };
    const declined = (await client.callTool({ name: 'test_elicitation', arguments: { message: 'Again?' } })) as CallToolResult;
    expect(declined.isError ?? false).toBe(false);
    expect(text(declined)).toContain('User response: action=decline, content={}');
  });

  it("asks the client's model and returns its answer", async () => {
    const client = await connect(gateways[0]!, { sampling: {} });
    const result = (await client.callTool({ name: 'test_sampling', arguments: { prompt: 'What is six times seven?' } })) as CallToolResult;
    expect(sampled.at(-1)).toMatchObject({ maxTokens: 100, messages: [{ role: 'user', content: { type: 'text', text: 'What is six times seven?' } }] });
    expect(text(result)).toContain('LLM response: forty-two');
  });

  it('answers clearly when the client cannot be asked', async () => {
    const client = await connect(gateways[0]!, {});
    const before = elicited.length + sampled.length;
    const noElicitation = (await client.callTool({ name: 'test_elicitation', arguments: { message: 'Anyone?' } })) as CallToolResult;
    expect(noElicitation.isError).toBe(true);
    expect(text(noElicitation)).toMatch(/cannot ask: the client does not support elicitation \(it did not declare the capability\)/);
    const noSampling = (await client.callTool({ name: 'test_sampling', arguments: { prompt: 'Anyone?' } })) as CallToolResult;
    expect(text(noSampling)).toMatch(/cannot ask: the client does not support sampling/);
    expect(elicited.length + sampled.length).toBe(before);
    const jsonOnly = await connect(await startWith({ GATEWAY_JSON_RESPONSE: '1' }), { elicitation: {} });
    const overJson = (await jsonOnly.callTool({ name: 'test_elicitation', arguments: { message: 'Over JSON?' } })) as CallToolResult;
    expect(text(overJson)).toMatch(/JSON only .* cannot carry an elicitation request/);
  });
});
