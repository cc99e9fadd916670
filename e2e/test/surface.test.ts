import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, ResourceListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { startDozzleSim, type DozzleSim } from '@homelab-mcp/homelab-sim/dozzle/index.js';
import type { RunningShard } from '@homelab-mcp/shard-kit';
import { parseConfig as parseWatchmanConfig, startWatchman } from '@homelab-mcp/shard-dozzle';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki, type TestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { connectClient } from '@homelab-mcp/gateway/testing/mcp-client.js';
import { waitFor } from '@homelab-mcp/component-kit';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('resources, templates, prompts and completions declared by the Watchman, through the gateway', () => {
  let dir: string;
  let pki: TestPki;
  let dozzle: DozzleSim;
  let watchman: RunningShard | undefined;
  let port: number;
  let gateway: Gateway;
  let client: Client;
  const updated: string[] = [];
  let listChanges = 0;

  const startShard = async (p = 0) => {
    const tls = pki.shardTls('shard-dozzle');
    return startWatchman(parseWatchmanConfig({ SHARD_LISTEN: `127.0.0.1:${p}`, SHARD_TLS_CA: tls.caFile, SHARD_TLS_CERT: tls.certFile, SHARD_TLS_KEY: tls.keyFile, DOZZLE_API: dozzle.url }), logger);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-surface-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-dozzle']);
    dozzle = await startDozzleSim();
    watchman = await startShard();
    port = watchman.port;
    gateway = await startGateway(
      parseGatewayConfig({ ...pki.gatewayEnv(join(dir, 'gateway')), SHARD_DOZZLE_URL: `127.0.0.1:${port}`, GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000', GATEWAY_RECONNECT_MAX_MS: '500' }),
      logger,
    );
    await waitFor('the Watchman serving', () => gateway.shards().every((s) => s.state === 'serving'));
    client = await connectClient(gateway, 'surface-test', (uri) => void updated.push(uri));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void listChanges++);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await watchman?.close(0);
    await dozzle?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const container = (i = 0) => dozzle.containers[i]!.container.name.replace(/^\//, '');

  it('offers the capabilities and keeps the surface RPCs out of the tools', async () => {
    expect(client.getServerCapabilities()).toMatchObject({ resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, completions: {} });
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['tail_logs', 'list_containers']));
    expect(tools.filter((t) => /container_logs|complete|review/.test(t))).toEqual([]);
  });

  it('lists the logs template and each container as a resource, and reads one', async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toEqual([expect.objectContaining({ uriTemplate: 'docker://containers/{container}/logs', title: 'Container logs', mimeType: 'text/plain' })]);
    expect(resourceTemplates[0]!.description).not.toContain('buf:lint');
    const { resources } = await client.listResources();
    const uri = `docker://containers/${container()}/logs`;
    expect(resources.map((r) => r.uri)).toContain(uri);
    dozzle.appendLog(container(), 'stdout', 'surface test line');
    const read = await client.readResource({ uri });
    expect(read.contents).toEqual([expect.objectContaining({ uri, mimeType: 'text/plain', text: expect.stringContaining('surface test line') })]);
    const missing = await client.readResource({ uri: 'docker://nothing/here' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(McpError);
    expect((missing as McpError).code).toBe(-32002);
    const unknownContainer = await client.readResource({ uri: 'docker://containers/no-such-container/logs' }).catch((e: unknown) => e);
    expect((unknownContainer as McpError).message).toMatch(/no-such-container/);
  });

  it('completes container names from the live list, for the template and the prompt', async () => {
    const name = container();
    const byTemplate = await client.complete({ ref: { type: 'ref/resource', uri: 'docker://containers/{container}/logs' }, argument: { name: 'container', value: name.slice(0, 2) } });
    expect(byTemplate.completion.values).toContain(name);
    expect(byTemplate.completion.values.every((v) => v.startsWith(name.slice(0, 2)))).toBe(true);
    const byPrompt = await client.complete({ ref: { type: 'ref/prompt', name: 'review_container_errors' }, argument: { name: 'container', value: name } });
    expect(byPrompt.completion.values[0]).toBe(name);
    const none = await client.complete({ ref: { type: 'ref/prompt', name: 'review_container_errors' }, argument: { name: 'since', value: '1' } });
    expect(none.completion.values).toEqual([]);
  });

  it('lists and renders the review prompt, and says which argument is missing', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts).toEqual([expect.objectContaining({ name: 'review_container_errors', title: "Review a container's recent errors", arguments: [expect.objectContaining({ name: 'container', required: true }), expect.objectContaining({ name: 'since', required: false })] })]);
    dozzle.appendLog(container(), 'stderr', 'ERROR could not connect to database');
    const got = await client.getPrompt({ name: 'review_container_errors', arguments: { container: container() } });
    expect(got.messages[0]).toMatchObject({ role: 'user', content: { type: 'text', text: expect.stringContaining('ERROR could not connect to database') } });
    const missing = await client.getPrompt({ name: 'review_container_errors', arguments: {} }).catch((e: unknown) => e);
    expect((missing as McpError).message).toMatch(/needs "container"/);
    expect((missing as McpError).message.match(/MCP error/g)).toHaveLength(1);
  });

  it('notifies subscribers of new log lines, survives the shard dying, and stops after unsubscribe', async () => {
    const uri = `docker://containers/${container()}/logs`;
    await client.subscribeResource({ uri });
    // The watch stream is opened asynchronously: lines keep coming until one is seen.
    await waitFor('an update for a new line', () => {
      dozzle.appendLog(container(), 'stdout', 'watched line');
      return updated.includes(uri);
    });
    const changes = listChanges;
    await watchman!.close(0);
    watchman = undefined;
    await waitFor('resources/list_changed when the shard went away', () => listChanges > changes);
    expect((await client.listResources()).resources.filter((r) => r.uri.startsWith('docker://'))).toEqual([]);
    updated.length = 0;
    watchman = await startShard(port);
    // Back again, the watch resumes, and subscribers hear the resource may have changed while it was away.
    await waitFor('an update once the shard is back', () => updated.includes(uri), 30_000);
    updated.length = 0;
    await waitFor('an update for a line after the restart', () => {
      dozzle.appendLog(container(), 'stdout', 'after restart');
      return updated.includes(uri);
    });
    // Another session stays subscribed to the same URI, and this one to a second container's logs: the
    // first tells when a line was announced, the second gives this session a later event on the same stream.
    const otherUpdated: string[] = [];
    const other = await connectClient(gateway, 'surface-test-other', (uri) => void otherUpdated.push(uri));
    try {
      await other.subscribeResource({ uri });
      const second = container(1);
      const uri2 = `docker://containers/${second}/logs`;
      await client.subscribeResource({ uri: uri2 });
      await waitFor('the other session hearing the first container', () => {
        dozzle.appendLog(container(), 'stdout', 'both listen');
        return otherUpdated.includes(uri);
      });
      await waitFor('this session hearing the second container', () => {
        dozzle.appendLog(second, 'stdout', 'second container');
        return updated.includes(uri2);
      });
      await client.unsubscribeResource({ uri });
      updated.length = 0;
      otherUpdated.length = 0;
      dozzle.appendLog(container(), 'stdout', 'only the other session listens');
      await waitFor('the other session hearing the line', () => otherUpdated.includes(uri));
      // An update sent to this session for that line would precede, on its one stream, any for a later change.
      await waitFor('this session hearing a later line of the second container', () => {
        dozzle.appendLog(second, 'stdout', 'later');
        return updated.includes(uri2);
      });
      expect(updated.filter((u) => u === uri)).toEqual([]);
      await client.unsubscribeResource({ uri: uri2 });
    } finally {
      await other.close();
    }
  }, 90_000);
});
