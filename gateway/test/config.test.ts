import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from '@jest/globals';
import { ConfigError, parseGatewayConfig } from '../src/config.js';

const tls = { GATEWAY_TLS_CA: '/c/ca.pem', GATEWAY_TLS_CERT: '/c/cert.pem', GATEWAY_TLS_KEY: '/c/key.pem' };

describe('parseGatewayConfig', () => {
  it('reads shards from SHARD_<NAME>_URL with shard-<name> identities and safe defaults', () => {
    const config = parseGatewayConfig({ ...tls, SHARD_TRAEFIK_URL: 'shard-traefik:50051', SHARD_DOZZLE_URL: 'grpc://shard-dozzle:50051', SHARD_DOZZLE_IDENTITY: 'watchman' });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8765 });
    expect(config.auth.mode).toBe('token');
    expect(config.shards).toEqual([
      { name: 'dozzle', kind: 'dozzle', instance: '', rank: 0, address: 'shard-dozzle:50051', identity: 'watchman', plaintext: false, services: { reserved: ['homelab.traefik.*'] } },
      { name: 'traefik', kind: 'traefik', instance: '', rank: 0, address: 'shard-traefik:50051', identity: 'shard-traefik', plaintext: false, services: { reserved: ['homelab.dozzle.*'] } },
    ]);
    expect(Object.isFrozen(config) && Object.isFrozen(config.shards[0])).toBe(true);
  });

  it('reads a YAML shard list from GATEWAY_CONFIG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'shards:\n  - name: authentik\n    url: 10.0.0.5:50051\n    services: [homelab.authentik.v1.GatekeeperService]\n');
    const config = parseGatewayConfig({ ...tls, GATEWAY_CONFIG: file, SHARD_MY_SHARD_URL: 'my-shard:50051', SHARD_MY_SHARD_SERVICES: 'acme.v1.*, acme.v2.Thing' });
    expect(config.shards).toEqual([
      { name: 'authentik', kind: 'authentik', instance: '', rank: 0, address: '10.0.0.5:50051', identity: 'shard-authentik', plaintext: false, services: { allow: ['homelab.authentik.v1.GatekeeperService'], reserved: ['homelab.my_shard.*'] } },
      { name: 'my-shard', kind: 'my-shard', instance: '', rank: 0, address: 'my-shard:50051', identity: 'shard-my-shard', plaintext: false, services: { allow: ['acme.v1.*', 'acme.v2.Thing'], reserved: ['homelab.authentik.*'] } },
    ]);
  });

  it('refuses a GATEWAY_CONFIG with a misspelt key or a node listed twice instead of reading it as fewer or other shards', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const file = join(dir, 'nodes.yaml');
    writeFileSync(file, 'shard:\n  - name: dozzle\n    instance: nas\n    url: nas:50051\n');
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_CONFIG: file })).toThrow(/GATEWAY_CONFIG: .*nodes\.yaml: \(root\): Unrecognized key: "shard"/);
    writeFileSync(file, 'shards:\n  - name: dozzle\n    instnace: nas\n    url: nas:50051\n');
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_CONFIG: file })).toThrow(/nodes\.yaml: shards\.0: Unrecognized key: "instnace"/);
    writeFileSync(file, 'shards:\n  - { name: dozzle, instance: nas, url: nas:50051 }\n  - { name: dozzle, instance: nas, url: 10.0.0.9:50051 }\n');
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_CONFIG: file })).toThrow(/nodes\.yaml lists dozzle\/nas twice/);
  });

  it('reads a GATEWAY_CONFIG not written yet in a directory that is there as no shards, and refuses one whose directory is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    expect(parseGatewayConfig({ ...tls, GATEWAY_CONFIG: join(dir, 'nodes.yaml'), SHARD_TRAEFIK_URL: 'shard-traefik:50051' }).shards.map((s) => s.name)).toEqual(['traefik']);
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_CONFIG: join(dir, 'nodes', 'nodes.yaml') })).toThrow(/GATEWAY_CONFIG: cannot read .*nodes\/nodes\.yaml/);
  });

  it('reads an empty GATEWAY_* value as unset, as compose passes them', () => {
    const config = parseGatewayConfig({ ...tls, SHARD_TRAEFIK_URL: 'shard-traefik:50051', GATEWAY_AUTH: 'token', GATEWAY_OAUTH_ISSUER: '', GATEWAY_OAUTH_AUDIENCE: '', GATEWAY_PUBLIC_URL: '' });
    expect(config.auth).toEqual({ mode: 'token', tokenFile: expect.stringMatching(/token$/) });
    expect(config.publicUrl).toBeUndefined();
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_AUTH: 'oauth', GATEWAY_OAUTH_ISSUER: '', GATEWAY_OAUTH_AUDIENCE: 'x' })).toThrow(/GATEWAY_OAUTH_ISSUER: required/);
  });

  it('names the variable and shows an example in every error', () => {
    expect(() => parseGatewayConfig({ GATEWAY_LISTEN: 'nope' })).toThrow(/GATEWAY_LISTEN: .*example: GATEWAY_LISTEN=127\.0\.0\.1:8765/);
    expect(() => parseGatewayConfig({ SHARD_TRAEFIK_URL: 'shard-traefik:50051' })).toThrow(/GATEWAY_TLS_CA: .*example/);
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_MAX_SESSIONS: 'many' })).toThrow(ConfigError);
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_MAX_SESSIONS: 'many' })).toThrow(/GATEWAY_MAX_SESSIONS/);
  });

  it('bounds how long a request may take to arrive and how many sessions a caller holds, by default', () => {
    const config = parseGatewayConfig(tls);
    expect(config.requestDeadlines).toEqual({ headersMs: 10_000, bodyMs: 30_000 });
    expect(config.sessions).toMatchObject({ max: 100, maxPerSubject: 32 });
    expect(parseGatewayConfig({ ...tls, GATEWAY_MAX_SESSIONS_PER_SUBJECT: '0', GATEWAY_BODY_TIMEOUT_MS: '60000' })).toMatchObject({ sessions: { maxPerSubject: 0 }, requestDeadlines: { bodyMs: 60_000 } });
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_HEADERS_TIMEOUT_MS: '0' })).toThrow(/GATEWAY_HEADERS_TIMEOUT_MS: .*example: GATEWAY_HEADERS_TIMEOUT_MS=10000/);
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_MAX_SESSIONS_PER_SUBJECT: '-1' })).toThrow(/GATEWAY_MAX_SESSIONS_PER_SUBJECT/);
  });

  it('allows plaintext shards and auth none only on loopback', () => {
    expect(parseGatewayConfig({ SHARD_KS_URL: '127.0.0.1:5000', GATEWAY_PLAINTEXT_SHARDS: '1', GATEWAY_AUTH: 'none' }).shards[0]!.plaintext).toBe(true);
    expect(() => parseGatewayConfig({ SHARD_KS_URL: '10.1.1.1:5000', GATEWAY_PLAINTEXT_SHARDS: 'ks' })).toThrow(/GATEWAY_PLAINTEXT_SHARDS: .*not on loopback/);
    expect(() => parseGatewayConfig({ GATEWAY_LISTEN: '0.0.0.0:8765', GATEWAY_AUTH: 'none' })).toThrow(/GATEWAY_AUTH: .*loopback/);
  });

  it('lets a person approve plans by default when the gateway is reachable beyond loopback', () => {
    expect(parseGatewayConfig(tls).approval).toBe('model');
    expect(parseGatewayConfig({ ...tls, GATEWAY_LISTEN: '0.0.0.0:8765' }).approval).toBe('human');
    expect(parseGatewayConfig({ ...tls, GATEWAY_LISTEN: '192.168.1.5:8765', GATEWAY_APPROVAL: 'model' }).approval).toBe('model');
    expect(parseGatewayConfig({ ...tls, GATEWAY_APPROVAL: 'human' }).approval).toBe('human');
    expect(() => parseGatewayConfig({ ...tls, GATEWAY_APPROVAL: 'robot' })).toThrow(/GATEWAY_APPROVAL: .*example: GATEWAY_APPROVAL=human/);
  });

  it('reads the instances of a shard kind, one per node, each with its own identity', () => {
    const config = parseGatewayConfig({
      ...tls,
      SHARD_TRAEFIK_URL: 'shard-traefik:50051',
      SHARD_DOZZLE_URL: 'shard-dozzle:50051',
      SHARD_DOZZLE_INSTANCES: 'pi=10.0.0.7:50051, nas=nas.home.lan:50051',
    });
    expect(config.shards.map((s) => [s.name, s.kind, s.instance, s.rank, s.address, s.identity])).toEqual([
      ['dozzle', 'dozzle', '', 0, 'shard-dozzle:50051', 'shard-dozzle'],
      ['dozzle/nas', 'dozzle', 'nas', 1, 'nas.home.lan:50051', 'shard-dozzle/nas'],
      ['dozzle/pi', 'dozzle', 'pi', 2, '10.0.0.7:50051', 'shard-dozzle/pi'],
      ['traefik', 'traefik', '', 0, 'shard-traefik:50051', 'shard-traefik'],
    ]);
    // Instances of one kind may offer its services; other kinds' packages stay reserved.
    expect(config.shards[1]!.services.reserved).toEqual(['homelab.traefik.*']);
    // Without a default instance, the first node by name comes first.
    expect(parseGatewayConfig({ ...tls, SHARD_DOZZLE_INSTANCES: 'pi=pi:1,nas=nas:1' }).shards.map((s) => [s.name, s.rank])).toEqual([['dozzle/nas', 0], ['dozzle/pi', 1]]);
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'shards:\n  - name: dozzle\n    instance: nas\n    url: nas.home.lan:50051\n');
    expect(parseGatewayConfig({ ...tls, GATEWAY_CONFIG: file }).shards[0]).toMatchObject({ name: 'dozzle/nas', identity: 'shard-dozzle/nas' });
  });

  it('refuses an instance list that does not fit, naming the item', () => {
    expect(() => parseGatewayConfig({ ...tls, SHARD_DOZZLE_INSTANCES: 'nas.home.lan:50051' })).toThrow(/SHARD_DOZZLE_INSTANCES: "nas.home.lan:50051" is not instance=host:port.*example: SHARD_DOZZLE_INSTANCES=nas=/);
    expect(() => parseGatewayConfig({ ...tls, SHARD_DOZZLE_INSTANCES: 'NAS=nas:1' })).toThrow(/instance "NAS" must be lowercase/);
    expect(() => parseGatewayConfig({ ...tls, SHARD_DOZZLE_INSTANCES: 'nas=nas:1,nas=other:1' })).toThrow(/names instance "nas" twice/);
    expect(() => parseGatewayConfig({ ...tls, SHARD_DOZZLE_INSTANCES: 'nas=nas' })).toThrow(/SHARD_DOZZLE_INSTANCES: "nas" is not host:port/);
  });
});
