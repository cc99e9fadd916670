import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { createCa, issueCertificate, loadCa } from '@homelab-mcp/pki';
import { NavigatorServiceService } from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { serve, ShardError, type RunningShard, type ShardHandlers } from '@homelab-mcp/shard-kit';
import { parseGatewayConfig, startGateway, type Gateway, type ShardStatus } from '../src/index.js';
import { startKitchenSink, type KitchenSinkControl } from '@homelab-mcp/shard-kit/testing/kitchen-sink.js';
import { createTestPki, type TestPki } from './support/test-pki.js';
import { waitFor } from '@homelab-mcp/component-kit';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const DAY = 86_400_000;


/** A shard with a valid certificate that offers a service its identity does not own. */
function startImposter(identity: string, pki: TestPki): Promise<RunningShard> {
  const refuse = () => {
    throw new ShardError('UNIMPLEMENTED', 'imposter');
  };
  const handlers = Object.fromEntries(Object.keys(NavigatorServiceService).map((k) => [k, refuse])) as unknown as ShardHandlers<typeof NavigatorServiceService>;
  return serve({
    name: identity.replace(/^shard-/, ''),
    serviceName: 'homelab.traefik.v1.NavigatorService',
    service: NavigatorServiceService,
    handlers,
    listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls(identity) },
    logger,
  });
}

describe('shard identity: ownership of services, refused identities, certificate rotation', () => {
  let dir: string;
  let pki: TestPki;
  const gateways: Gateway[] = [];
  const closers: (() => Promise<void>)[] = [];

  const startGw = async (shards: Record<string, string>) => {
    const gw = await startGateway(
      parseGatewayConfig({
        ...pki.gatewayEnv(join(dir, `data-${gateways.length}`)),
        GATEWAY_RECONNECT_INITIAL_MS: '100',
        GATEWAY_RECONNECT_MAX_MS: '500',
        ...shards,
      }),
      logger,
    );
    gateways.push(gw);
    return gw;
  };
  const shard = (gw: Gateway, name: string) => gw.shards().find((s) => s.name === name);
  const statusText = async (gw: Gateway) => {
    const client = new Client({ name: 'identity-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${gw.token}` } } }));
    const result = (await client.callTool({ name: 'homelab_status', arguments: {} })) as CallToolResult;
    await client.close();
    return { text: result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n'), structured: result.structuredContent as { shards: Record<string, unknown>[] } };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-identity-'));
    pki = await createTestPki(join(dir, 'pki'), ['gateway', 'shard-traefik', 'shard-dozzle', 'shard-kitchen']);
  });

  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    for (const close of closers) await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses Navigator tools from a shard holding the Dozzle identity', async () => {
    const imposter = await startImposter('shard-dozzle', pki);
    closers.push(() => imposter.close(0));
    const gw = await startGw({ SHARD_DOZZLE_URL: `127.0.0.1:${imposter.port}`, SHARD_TRAEFIK_URL: '127.0.0.1:1' });
    const refused = await waitFor('the dozzle shard to be refused', () => (shard(gw, 'dozzle')?.state === 'failed' ? shard(gw, 'dozzle') : undefined));
    expect(refused.lastError).toMatch(/homelab\.traefik\.v1\.NavigatorService belongs to another shard .*not to shard-dozzle/);
    expect(refused.toolCount).toBe(0);
    expect(gw.tools().map((t) => t.name)).not.toContain('get_routes');
  });

  it('takes the same service from the identity that owns it', async () => {
    const owner = await startImposter('shard-traefik', pki);
    closers.push(() => owner.close(0));
    const gw = await startGw({ SHARD_TRAEFIK_URL: `127.0.0.1:${owner.port}`, SHARD_DOZZLE_URL: '127.0.0.1:1' });
    await waitFor('the traefik shard to serve', () => shard(gw, 'traefik')?.state === 'serving');
    expect(gw.tools().map((t) => t.name)).toContain('get_routes');
  });

  it('refuses a shard whose certificate carries another identity, naming both', async () => {
    const other = await startImposter('shard-dozzle', pki);
    closers.push(() => other.close(0));
    const gw = await startGw({ SHARD_TRAEFIK_URL: `127.0.0.1:${other.port}` });
    const refused = await waitFor('the traefik shard to be unreachable', () => {
      const s = shard(gw, 'traefik');
      return s?.state === 'unreachable' && s.lastError ? s : undefined;
    });
    expect(refused.lastError).toMatch(/spiffe:\/\/homelab-mcp\/shard-dozzle.*expected spiffe:\/\/homelab-mcp\/shard-traefik/);
    expect(gw.tools().map((t) => t.name)).not.toContain('get_routes');
  });

  it('rotates certificates without restarts: a re-issued shard certificate is shown and warned; a new CA is picked up by the running gateway', async () => {
    let kitchen: KitchenSinkControl = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port: 0, tls: pki.shardTls('shard-kitchen') }, logger });
    const port = kitchen.port;
    closers.push(() => kitchen.close());
    const first = await startGw({ SHARD_KITCHEN_URL: `127.0.0.1:${port}` });
    const initial = await waitFor('kitchen serving', () => (shard(first, 'kitchen')?.state === 'serving' ? shard(first, 'kitchen') : undefined));
    expect(initial.certificateExpiresAt!.getTime() - Date.now()).toBeGreaterThan(300 * DAY);
    expect((await statusText(first)).text).not.toMatch(/WARNING/);

    // The shard's certificate is re-issued for 5 days, in place; the shard keeps running.
    const caDir = join(dir, 'pki');
    const ca = await loadCa(join(caDir, 'ca.pem'), join(caDir, 'ca-key.pem'));
    const short = await issueCertificate(ca, 'shard-kitchen', { days: 5 });
    writeFileSync(join(caDir, 'shard-kitchen', 'key.pem'), short.keyPem, { mode: 0o600 });
    writeFileSync(join(caDir, 'shard-kitchen', 'cert.pem'), short.certPem);
    await new Promise((r) => setTimeout(r, 6500)); // the shard re-reads its files every 5 s
    const second = await startGw({ SHARD_KITCHEN_URL: `127.0.0.1:${port}` });
    const rotated = await waitFor('kitchen serving with the new certificate', () => {
      const s = shard(second, 'kitchen');
      return s?.state === 'serving' && s.certificateExpiresAt ? s : undefined;
    });
    expect(rotated.certificateExpiresAt!.getTime() - Date.now()).toBeLessThan(6 * DAY);
    const status = await statusText(second);
    expect(status.text).toMatch(/WARNING: the shard-kitchen certificate expires in [45] days; re-issue it with `homelab-mcp certs issue shard-kitchen`/);
    expect(status.structured.shards[0]).toMatchObject({ certificateWarning: expect.stringContaining('expires in') });

    // A whole new CA: every file is replaced while the second gateway keeps running.
    const newCa = await createCa('homelab-mcp CA 2');
    const gatewayCert = await issueCertificate(newCa, 'gateway');
    const kitchenCert = await issueCertificate(newCa, 'shard-kitchen');
    writeFileSync(join(caDir, 'ca.pem'), newCa.certPem);
    writeFileSync(join(caDir, 'gateway', 'key.pem'), gatewayCert.keyPem, { mode: 0o600 });
    writeFileSync(join(caDir, 'gateway', 'cert.pem'), gatewayCert.certPem);
    writeFileSync(join(caDir, 'shard-kitchen', 'key.pem'), kitchenCert.keyPem, { mode: 0o600 });
    writeFileSync(join(caDir, 'shard-kitchen', 'cert.pem'), kitchenCert.certPem);
    await new Promise((r) => setTimeout(r, 6500)); // both sides re-read their files
    // A new handshake is forced by restarting the shard on the same port; the gateway is not restarted.
    await kitchen.close();
    const down = await waitFor('kitchen unreachable', () => shard(second, 'kitchen')?.state !== 'serving');
    expect(down).toBe(true);
    kitchen = await startKitchenSink({ name: 'kitchen', listen: { host: '127.0.0.1', port, tls: pki.shardTls('shard-kitchen') }, logger });
    const back: ShardStatus = await waitFor('kitchen serving under the new CA', () => (shard(second, 'kitchen')?.state === 'serving' ? shard(second, 'kitchen') : undefined));
    expect(back.certificateExpiresAt!.getTime() - Date.now()).toBeGreaterThan(300 * DAY);
  }, 60_000);
});
