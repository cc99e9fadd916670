import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { waitFor, waitForReady } from '@homelab-mcp/component-kit';
import { startTraefikSim, type TraefikSim } from '@homelab-mcp/homelab-sim/traefik/index.js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '@homelab-mcp/proto/ts/grpc/health/v1/health.js';
import { parseGatewayConfig, startGateway, type Gateway } from '@homelab-mcp/gateway';
import { createTestPki, waitServing, type TestPki } from '@homelab-mcp/gateway/testing/test-pki.js';
import { identityCodec } from '@homelab-mcp/gateway/discovery/wire.js';

// Writes against a real Navigator process on the Traefik stand-in: the shard's
// own certificate cannot skip the gateway, an apply cut off by a killed shard
// says the change may have been written and how to look, and every attempted
// write that is refused leaves an audit line.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const repo = process.cwd();


const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('writes through the gateway to a real shard process', () => {
  let dir: string;
  let pki: TestPki;
  let sim: TraefikSim;
  let dynamicDir: string;
  let shard: ChildProcess | undefined;
  let shardPort = 0;
  let gateway: Gateway;
  let client: Client;

  /** shard-traefik as its own process (what `homelab-mcp start` and the image run), on shardPort once known. */
  const startShard = async () => {
    const tls = pki.shardTls('shard-traefik');
    const child = fork(join(repo, 'shard-traefik', 'src', 'main.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        SHARD_LISTEN: `127.0.0.1:${shardPort}`,
        SHARD_TLS_CA: tls.caFile,
        SHARD_TLS_CERT: tls.certFile,
        SHARD_TLS_KEY: tls.keyFile,
        TRAEFIK_API: sim.apiUrl,
        TRAEFIK_DYNAMIC_DIR: dynamicDir,
        // The stand-in below never reloads on its own: an apply waits for Traefik until the shard is killed.
        TRAEFIK_CONFIRM_TIMEOUT_MS: '120000',
      },
    });
    const address = (await waitForReady(child, 'shard-traefik')).grpc ?? '';
    shardPort = Number(address.split(':').pop());
    shard = child;
  };
  const audit = () =>
    existsSync(join(dir, 'gateway', 'audit.log'))
      ? readFileSync(join(dir, 'gateway', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 }) as Promise<CallToolResult>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-writes-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-traefik']);
    dynamicDir = join(dir, 'dynamic');
    mkdirSync(dynamicDir);
    sim = await startTraefikSim({ dynamicDir, throttleMs: 3_600_000 });
    await startShard();
    gateway = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, 'gateway')),
        SHARD_TRAEFIK_URL: `127.0.0.1:${shardPort}`,
        GATEWAY_RECONNECT_INITIAL_MS: '100',
        GATEWAY_RECONNECT_MAX_MS: '500',
        GATEWAY_SHARD_KEEPALIVE_TIMEOUT_MS: '5000',
      }),
      logger,
    );
    await waitServing(gateway);
    client = new Client({ name: 'writes-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${gateway.token}` } } }));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    shard?.kill('SIGKILL');
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses the shard's own certificate everywhere but the health service", async () => {
    const own = pki.shardTls('shard-traefik');
    const asShard = grpc.credentials.createSsl(readFileSync(pki.caFile), readFileSync(own.keyFile), readFileSync(own.certFile), { checkServerIdentity: () => undefined });
    const asGateway = grpc.credentials.createSsl(readFileSync(pki.caFile), readFileSync(pki.gateway.keyFile), readFileSync(pki.gateway.certFile), { checkServerIdentity: () => undefined });
    const list = (creds: grpc.ChannelCredentials) => {
      const c = new grpc.Client(`127.0.0.1:${shardPort}`, creds);
      return new Promise<Uint8Array>((ok, fail) =>
        c.makeUnaryRequest('/homelab.traefik.v1.NavigatorService/ListDynamicConfigs', identityCodec.serialize, identityCodec.deserialize, new Uint8Array(0), { deadline: Date.now() + 10_000 }, (err, res) => {
          c.close();
          if (err) fail(err);
          else ok(res!);
        }),
      );
    };
    await expect(list(asShard)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining('may only call the health service') });
    // The operator's debug path (buf curl with the gateway's certificate) stays open.
    await expect(list(asGateway)).resolves.toBeInstanceOf(Uint8Array);
    const health = new HealthClient(`127.0.0.1:${shardPort}`, asShard);
    const status = await new Promise((ok, fail) => health.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? fail(err) : ok(res.status))));
    health.close();
    expect(status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it('audits refused writes with the reason, secrets redacted', async () => {
    const invalid = await call('add_dynamic_config', { name: '../evil', hosts: ['evil.home.lan'], service: { urls: ['http://10.0.0.9:80'] }, api_token: 'hunter2' });
    expect(invalid).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^Invalid arguments for add_dynamic_config:\n(.*\n)*- name: must match/) }] });
    const madeUp = await call('remove_dynamic_config', { name: 'gitea', plan_id: 'made-up' });
    expect(madeUp.isError).toBe(true);
    const lines = audit();
    expect(lines).toContainEqual(
      expect.objectContaining({ tool: 'add_dynamic_config', result: 'refused', error: expect.stringMatching(/^validation: .*name/), arguments: expect.objectContaining({ name: '../evil', api_token: '[REDACTED]' }) }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ tool: 'remove_dynamic_config', result: 'refused', planId: 'made-up', error: expect.stringMatching(/^plan: /) }));
    expect(readFileSync(join(dir, 'gateway', 'audit.log'), 'utf8')).not.toContain('hunter2');
  });

  it('says an apply cut off by a lost shard may have been written, and how to check', async () => {
    const args = { name: 'pinchflat', hosts: ['pinchflat.home.lan'], service: { urls: ['http://10.0.0.7:8945'] } };
    const planned = await call('add_dynamic_config', args);
    expect(planned.isError).toBeFalsy();
    const planId = (planned.structuredContent as { plan: { id: string } }).plan.id;

    const applying = call('add_dynamic_config', { ...args, plan_id: planId });
    // The shard has written the file and waits for Traefik to load it: kill it there.
    await waitFor('the route file', () => existsSync(join(dynamicDir, 'mcp-pinchflat.yml')));
    shard!.kill('SIGKILL');
    const result = await applying;
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/may or may not have been applied/);
    expect(text(result)).toContain('list_dynamic_configs');
    expect(text(result)).toMatch(/before (retrying|you retry)/);
    expect(result._meta?.['homelab-mcp/error']).toMatchObject({ outcome: 'unknown', verifyWith: 'list_dynamic_configs', shard: 'traefik' });
    expect(audit()).toContainEqual(expect.objectContaining({ tool: 'add_dynamic_config', planId, result: 'unknown', error: expect.stringMatching(/may or may not/) }));

    // The advice works: once the shard is back, its read tool shows what was written.
    await startShard();
    await waitServing(gateway);
    const listed = await call('list_dynamic_configs', {});
    expect(listed.isError).toBeFalsy();
    expect(JSON.stringify(listed.structuredContent)).toContain('pinchflat');
  }, 90_000);
});
