import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { createFileRegistry, fromBinary, getExtension, hasExtension } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { pino } from 'pino';
import { createCa, ensurePki, issueCertificate, loadCa } from '@homelab-mcp/pki';
import { startKitchenSink, type KitchenSinkControl } from './support/kitchen-sink.js';
import { EchoRequest } from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthClient, type HealthCheckResponse } from '@homelab-mcp/proto/ts/grpc/health/v1/health.js';
import {
  ServerReflectionClient,
  ServerReflectionService,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@homelab-mcp/proto/ts/grpc/reflection/v1/reflection.js';
import { clientCredentials, kitchenClient, unary } from './support/clients.js';

const run = promisify(execFile);
const logger = pino({ level: 'silent' });
let dir: string;
let pki: Awaited<ReturnType<typeof ensurePki>>;
let shard: KitchenSinkControl;

const gatewayTls = () => ({ caFile: pki.caFile, certFile: pki.identities.gateway!.certFile, keyFile: pki.identities.gateway!.keyFile });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shard-kit-'));
  pki = await ensurePki(join(dir, 'pki'), ['gateway', 'shard-kitchen', 'shard-dozzle']);
  const id = pki.identities['shard-kitchen']!;
  shard = await startKitchenSink({ listen: { host: '127.0.0.1', port: 0, tls: { caFile: pki.caFile, certFile: id.certFile, keyFile: id.keyFile, allowedPeers: ['gateway'] } }, logger });
});

afterAll(async () => {
  await shard.close();
  await rm(dir, { recursive: true, force: true });
});

/** One reflection request (file_containing_symbol); returns the serialized FileDescriptorProtos. */
function reflectFile(symbol: string, creds = clientCredentials(gatewayTls())): Promise<Uint8Array[]> {
  const client = new ServerReflectionClient(`127.0.0.1:${shard.port}`, creds);
  return new Promise<Uint8Array[]>((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.on('data', (res: ServerReflectionResponse) => {
      call.end();
      resolve(res.fileDescriptorResponse?.fileDescriptorProto ?? []);
    });
    call.on('error', reject);
    call.write({ host: '', fileContainingSymbol: symbol });
  }).finally(() => client.close());
}

describe('serve()', () => {
  it('serves reflection that buf curl can list, over mTLS', async () => {
    const { stdout } = await run(join(process.cwd(), 'node_modules/.bin/buf'), [
      'curl', '--protocol', 'grpc', '--list-methods', '--reflect',
      '--cacert', pki.caFile, '--cert', gatewayTls().certFile, '--key', gatewayTls().keyFile,
      `https://localhost:${shard.port}`,
    ]);
    expect(stdout).toContain('homelab.testing.v1.KitchenSinkService/Echo');
    expect(stdout).toContain('homelab.testing.v1.KitchenSinkService/Count');
    // A call needs every message of the method and the files they import, all from reflection.
    const echoed = await run(join(process.cwd(), 'node_modules/.bin/buf'), [
      'curl', '--protocol', 'grpc', '--reflect',
      '--cacert', pki.caFile, '--cert', gatewayTls().certFile, '--key', gatewayTls().keyFile,
      '-d', '{"fString":"hi","wDuration":"1.5s"}', `https://localhost:${shard.port}/homelab.testing.v1.KitchenSinkService/Echo`,
    ]);
    expect(JSON.parse(echoed.stdout)).toMatchObject({ echo: { fString: 'hi', wDuration: '1.500s' } });
  });

  it('answers reflection v1alpha like v1: services, files by name, symbol, extension', async () => {
    const client = new grpc.Client(`127.0.0.1:${shard.port}`, clientCredentials(gatewayTls()));
    const { requestSerialize, responseDeserialize } = ServerReflectionService.serverReflectionInfo;
    const call = client.makeBidiStreamRequest('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', requestSerialize, responseDeserialize);
    const answers: ServerReflectionResponse[] = [];
    call.on('data', (res: ServerReflectionResponse) => answers.push(res));
    const ask = (req: Partial<ServerReflectionRequest>) =>
      new Promise<ServerReflectionResponse>((resolve, reject) => {
        const n = answers.length;
        const onData = () => {
          if (answers.length <= n) return;
          call.off('data', onData);
          resolve(answers[n]!);
        };
        call.on('data', onData);
        call.once('error', reject);
        call.write({ host: '', ...req });
      });
    const names = (res: ServerReflectionResponse) => (res.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
    try {
      const listed = await ask({ listServices: '*' });
      expect(listed.listServicesResponse?.service.map((s) => s.name)).toEqual(['homelab.testing.v1.KitchenSinkService', 'homelab.mcp.v1.ShardStatusService']);
      const byName = await ask({ fileByFilename: 'homelab/mcp/v1/tool.proto' });
      expect(names(byName)).toEqual(['homelab/mcp/v1/tool.proto', 'google/protobuf/descriptor.proto']);
      expect(byName.originalRequest?.fileByFilename).toBe('homelab/mcp/v1/tool.proto');
      expect(names(await ask({ fileContainingSymbol: 'homelab.testing.v1.KitchenSinkService.Echo' }))[0]).toBe('homelab/testing/v1/kitchen_sink.proto');
      expect(names(await ask({ fileContainingSymbol: 'homelab.testing.v1.EchoRequest.f_double' }))[0]).toBe('homelab/testing/v1/kitchen_sink.proto');
      const numbers = await ask({ allExtensionNumbersOfType: 'google.protobuf.MethodOptions' });
      const [toolNumber] = numbers.allExtensionNumbersResponse?.extensionNumber ?? [];
      expect(toolNumber).toBeGreaterThan(0);
      const extension = await ask({ fileContainingExtension: { containingType: 'google.protobuf.MethodOptions', extensionNumber: toolNumber! } });
      expect(names(extension)[0]).toBe('homelab/mcp/v1/tool.proto');
      const missing = await ask({ fileContainingSymbol: 'homelab.testing.v1.Nothing' });
      expect(missing.errorResponse).toEqual({ errorCode: grpc.status.NOT_FOUND, errorMessage: 'symbol homelab.testing.v1.Nothing not found' });
    } finally {
      call.end();
      client.close();
    }
  });

  it('hands out the descriptor with the RPC comments and tool options intact', async () => {
    const files = (await reflectFile('homelab.testing.v1.KitchenSinkService')).map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const own = files.find((f) => f.name === 'homelab/testing/v1/kitchen_sink.proto');
    expect(own).toBeDefined();
    const comments = own?.sourceCodeInfo?.location.map((l) => l.leadingComments) ?? [];
    expect(comments).toContain(' Echo every field back unchanged.\n');
    // The requested file first, then what it imports (tool.proto declares the option).
    expect(files[0]?.name).toBe('homelab/testing/v1/kitchen_sink.proto');
    expect(files.map((f) => f.name)).toContain('homelab/mcp/v1/tool.proto');
    // The (homelab.mcp.v1.tool) option is an extension of MethodOptions, declared by tool.proto.
    const byName = new Map(files.map((f) => [f.name, f]));
    const tool = createFileRegistry(byName.get('homelab/mcp/v1/tool.proto')!, (name) => byName.get(name)).getExtension('homelab.mcp.v1.tool');
    const echo = own?.service[0]?.method.find((m) => m.name === 'Echo');
    expect(tool && echo?.options && hasExtension(echo.options, tool)).toBe(true);
    expect(getExtension(echo!.options!, tool!)).toMatchObject({ title: 'Echo', readOnly: true });
  });

  it('reports health over Watch: SERVING, NOT_SERVING when the upstream check fails, SERVING again', async () => {
    const client = new HealthClient(`127.0.0.1:${shard.port}`, clientCredentials(gatewayTls()));
    const seen: ServingStatus[] = [];
    const stream = client.watch({ service: 'homelab.testing.v1.KitchenSinkService' });
    stream.on('error', () => undefined); // the CANCELLED from our own cancel() at the end
    const next = (want: ServingStatus) => new Promise<void>((resolve) => {
      const check = () => { if (seen.includes(want)) { stream.off('data', onData); resolve(); } };
      const onData = (m: HealthCheckResponse) => { seen.push(m.status); check(); };
      stream.on('data', onData);
      check();
    });
    await next(ServingStatus.SERVING);
    await shard.setUpstreamUp(false);
    await next(ServingStatus.NOT_SERVING);
    seen.length = 0;
    await shard.setUpstreamUp(true);
    await next(ServingStatus.SERVING);
    stream.cancel();
    client.close();
  });

  it('sends ShardError details the client can read', async () => {
    const client = kitchenClient(shard.port, clientCredentials(gatewayTls()));
    const err = await unary(client.fail.bind(client), { code: 3, message: 'bad value' }).catch((e: grpc.ServiceError) => e);
    client.close();
    expect((err as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    const details = (err as grpc.ServiceError).metadata.get('grpc-status-details-bin')[0] as Buffer;
    const text = details.toString('latin1');
    expect(text).toContain('google.rpc.BadRequest');
    expect(text).toContain('Send code 0 to succeed.');
  });
});

describe('mTLS', () => {
  const echo = async (creds: grpc.ChannelCredentials) => {
    const client = kitchenClient(shard.port, creds);
    try {
      return await unary(client.echo.bind(client), EchoRequest.fromPartial({ fString: 'hi' }), 3000);
    } finally {
      client.close();
    }
  };

  it('accepts the gateway identity', async () => {
    await expect(echo(clientCredentials(gatewayTls()))).resolves.toMatchObject({ echo: { fString: 'hi' } });
  });

  it('refuses a client without a certificate', async () => {
    await expect(echo(clientCredentials({ caFile: pki.caFile }))).rejects.toMatchObject({});
  });

  it('refuses a certificate from a foreign CA', async () => {
    const foreign = await issueCertificate(await createCa('rogue CA'), 'gateway');
    await expect(echo(clientCredentials({ caFile: pki.caFile, certPem: foreign.certPem, keyPem: foreign.keyPem }))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('refuses an expired certificate', async () => {
    const ca = await loadCa(pki.caFile, join(dir, 'pki', 'ca-key.pem'));
    const expired = await issueCertificate(ca, 'gateway', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    await expect(echo(clientCredentials({ caFile: pki.caFile, certPem: expired.certPem, keyPem: expired.keyPem }))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it("lets the shard's own identity check its health and call nothing else, reflection included", async () => {
    const own = pki.identities['shard-kitchen']!;
    const creds = clientCredentials({ caFile: pki.caFile, certFile: own.certFile, keyFile: own.keyFile });
    // The container healthcheck presents the shard's own certificate.
    const health = new HealthClient(`127.0.0.1:${shard.port}`, creds);
    const status = await new Promise<ServingStatus>((resolve, reject) =>
      health.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res.status))),
    );
    health.close();
    expect(status).toBe(ServingStatus.SERVING);
    await expect(echo(creds)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/shard-kitchen.*health/) });
    await expect(reflectFile('homelab.testing.v1.KitchenSinkService', creds)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  it('refuses a valid certificate with another identity', async () => {
    const other = pki.identities['shard-dozzle']!;
    await expect(echo(clientCredentials({ caFile: pki.caFile, certFile: other.certFile, keyFile: other.keyFile }))).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: expect.stringContaining('shard-dozzle'),
    });
  });
});

describe('graceful shutdown', () => {
  it('finishes a slow call on SIGTERM, refuses new calls, exits 0', async () => {
    const id = pki.identities['shard-kitchen']!;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'shard-kit/test/support/slow-shard.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TLS_CA: pki.caFile, TLS_CERT: id.certFile, TLS_KEY: id.keyFile },
    });
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const creds = clientCredentials(gatewayTls());
    const slow = kitchenClient(port, creds);
    const pending = unary(slow.echo.bind(slow), EchoRequest.fromPartial({ fString: 'slow' }), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const late = kitchenClient(port, clientCredentials(gatewayTls()));
    const refused = unary(late.echo.bind(late), EchoRequest.fromPartial({ fString: 'late' }), 3000).then(() => 'served', () => 'refused');
    await expect(pending).resolves.toMatchObject({ echo: { fString: 'slow' } });
    expect(await refused).toBe('refused');
    expect(await exited).toBe(0);
    slow.close();
    late.close();
  });
});
