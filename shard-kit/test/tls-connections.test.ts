import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { waitFor } from '@homelab-mcp/component-kit/wait-for.js';
import { ensurePki, issueCertificate, loadCa } from '@homelab-mcp/pki';
import { EchoRequest } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import { startKitchenSink, type KitchenSinkControl } from './support/kitchen-sink.js';
import { clientCredentials, kitchenClient, unary } from './support/clients.js';

const logger = pino({ level: 'silent' });
let dir: string;
let pki: Awaited<ReturnType<typeof ensurePki>>;
let shard: KitchenSinkControl;

const gatewayTls = () => ({ caFile: pki.caFile, certFile: pki.identities.gateway!.certFile, keyFile: pki.identities.gateway!.keyFile });
const shardTls = () => ({ caFile: pki.caFile, certFile: pki.identities['shard-kitchen']!.certFile, keyFile: pki.identities['shard-kitchen']!.keyFile });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shard-kit-tls-'));
  pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-kitchen']);
  shard = await startKitchenSink({ listen: { host: '127.0.0.1', port: 0, tls: { ...shardTls(), allowedPeers: ['gateway'] } }, logger });
});

afterAll(async () => {
  await shard.close();
  await rm(dir, { recursive: true, force: true });
});

/** A raw TLS connection with the gateway's certificate; resolves once the handshake is done. */
function connect(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const files = gatewayTls();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: shard.port,
      ca: readFileSync(files.caFile),
      cert: readFileSync(files.certFile),
      key: readFileSync(files.keyFile),
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
      ...options,
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('TLS connections of a shard', () => {
  it('refuses renegotiation, so a connection keeps the identity it was verified with', async () => {
    const socket = await connect({ maxVersion: 'TLSv1.2' });
    expect(socket.alpnProtocol).toBe('h2');
    const outcome = await new Promise<string>((resolve) => {
      // Read what the server sends (its HTTP/2 settings), or the client never sees the outcome.
      socket.resume();
      socket.on('error', () => resolve('refused'));
      socket.once('close', () => resolve('refused'));
      const asked = socket.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? 'refused' : 'renegotiated'));
      if (!asked) resolve('refused');
    });
    socket.destroy();
    expect(outcome).toBe('refused');
  });

  it('serves a rotated certificate to new connections while open ones keep calling', async () => {
    const client = kitchenClient(shard.port, clientCredentials(gatewayTls()));
    try {
      await expect(unary(client.echo.bind(client), EchoRequest.fromPartial({ fString: 'before' }))).resolves.toMatchObject({ echo: { fString: 'before' } });
      const ca = await loadCa(pki.caFile, join(dir, 'pki', 'ca-key.pem'));
      const short = await issueCertificate(ca, 'shard-kitchen', { days: 5 });
      const files = shardTls();
      writeFileSync(files.keyFile, short.keyPem, { mode: 0o600 });
      writeFileSync(files.certFile, short.certPem);
      const served = (socket: tls.TLSSocket) => {
        const cert = socket.getPeerCertificate();
        socket.destroy();
        return cert;
      };
      // The shard reads its files again every few seconds; each new connection shows which certificate it serves.
      const rotated = await waitFor('the shard to serve the re-issued certificate', async () => {
        const cert = served(await connect());
        return new Date(cert.valid_to).getTime() - Date.now() < 6 * 86_400_000 ? cert : undefined;
      });
      expect(rotated.subjectaltname).toContain('spiffe://homelab-mcp/shard-kitchen');
      await expect(unary(client.echo.bind(client), EchoRequest.fromPartial({ fString: 'after' }))).resolves.toMatchObject({ echo: { fString: 'after' } });
      const fresh = kitchenClient(shard.port, clientCredentials(gatewayTls()));
      await expect(unary(fresh.echo.bind(fresh), EchoRequest.fromPartial({ fString: 'new' }))).resolves.toMatchObject({ echo: { fString: 'new' } });
      fresh.close();
    } finally {
      client.close();
    }
  }, 30_000);

  it('refuses new connections while its key does not fit its certificate, and serves again once it does', async () => {
    const files = shardTls();
    const ca = await loadCa(pki.caFile, join(dir, 'pki', 'ca-key.pem'));
    const replacement = await issueCertificate(ca, 'shard-kitchen');
    const handshake = () => connect().then((socket) => (socket.destroy(), 'accepted'), () => 'refused');
    // Half a rotation: the new key is in place, the certificate is still the old one.
    writeFileSync(files.keyFile, replacement.keyPem, { mode: 0o600 });
    await waitFor('new connections to be refused', async () => (await handshake()) === 'refused');
    writeFileSync(files.certFile, replacement.certPem);
    await waitFor('new connections to be accepted again', async () => (await handshake()) === 'accepted');
    const client = kitchenClient(shard.port, clientCredentials(gatewayTls()));
    await expect(unary(client.echo.bind(client), EchoRequest.fromPartial({ fString: 'fixed' }))).resolves.toMatchObject({ echo: { fString: 'fixed' } });
    client.close();
  }, 30_000);

  it('checks the identity of every connection: one refused caller does not open the door for the next', async () => {
    const own = kitchenClient(shard.port, clientCredentials(shardTls()));
    const gateway = kitchenClient(shard.port, clientCredentials(gatewayTls()));
    try {
      for (const text of ['one', 'two']) {
        await expect(unary(own.echo.bind(own), EchoRequest.fromPartial({ fString: text }))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining('shard-kitchen') });
        await expect(unary(gateway.echo.bind(gateway), EchoRequest.fromPartial({ fString: text }))).resolves.toMatchObject({ echo: { fString: text } });
      }
    } finally {
      own.close();
      gateway.close();
    }
  });

  it('says which address is taken when it cannot listen', async () => {
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)));
    try {
      await expect(startKitchenSink({ listen: { host: '127.0.0.1', port, tls: { ...shardTls(), allowedPeers: ['gateway'] } }, logger })).rejects.toThrow(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      taken.close();
    }
  });
});
