import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createCa, describeCertificate, ensurePki, issueCertificate, issueIdentity, readIdentity } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pki-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ensurePki', () => {
  it('creates a CA and one certificate per identity, keys readable by the owner only', async () => {
    const created: string[] = [];
    const files = await ensurePki(dir, ['gateway', 'shard-traefik'], { onCreate: (w) => created.push(w) });
    expect(created).toHaveLength(3);
    for (const id of ['gateway', 'shard-traefik']) {
      const f = files.identities[id];
      if (!f) throw new Error(`no files for ${id}`);
      expect((await stat(f.keyFile)).mode & 0o777).toBe(0o600);
      const pem = await readFile(f.certFile, 'utf8');
      expect(readIdentity(pem)).toBe(id);
      const ca = new X509Certificate(await readFile(files.caFile));
      expect(new X509Certificate(pem).verify(ca.publicKey)).toBe(true);
    }
    expect((await stat(join(dir, 'ca-key.pem'))).mode & 0o777).toBe(0o600);
  });

  it('keeps existing certificates on the next run and adds only what is missing', async () => {
    const before = await readFile(join(dir, 'gateway', 'cert.pem'), 'utf8');
    const created: string[] = [];
    await ensurePki(dir, ['gateway', 'shard-traefik', 'shard-dozzle'], { onCreate: (w) => created.push(w) });
    expect(created).toEqual(['shard-dozzle certificate']);
    expect(await readFile(join(dir, 'gateway', 'cert.pem'), 'utf8')).toBe(before);
  });

  it('re-issues one identity with extra DNS names under the same CA', async () => {
    const files = await issueIdentity(dir, 'shard-traefik', { dnsNames: ['traefik-host.home.lan'], days: 30 });
    const info = describeCertificate(await readFile(files.certFile));
    expect(info.sans).toContain('DNS:traefik-host.home.lan');
    expect(info.daysLeft).toBeGreaterThanOrEqual(29);
    expect(info.daysLeft).toBeLessThanOrEqual(30);
  });

  it('refuses identities that are not simple names', async () => {
    const ca = await createCa();
    await expect(issueCertificate(ca, '../escape')).rejects.toThrow(/lowercase letters/);
  });

  it('can issue an expired certificate and one from a foreign CA (for refusal tests)', async () => {
    const ca = await createCa();
    const past = new Date(Date.now() - 10 * 86_400_000);
    const expired = await issueCertificate(ca, 'gateway', { notBefore: past, notAfter: new Date(Date.now() - 86_400_000) });
    expect(describeCertificate(expired.certPem).daysLeft).toBeLessThan(0);
    const foreign = await issueCertificate(await createCa('other CA'), 'gateway');
    expect(new X509Certificate(foreign.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(false);
  });
});

describe('instance identities', () => {
  it('issues shard-dozzle/nas: the instance in the URI SAN, a DNS name without the slash, files of their own', async () => {
    const files = await issueIdentity(dir, 'shard-dozzle/nas');
    expect(files.certFile).toBe(join(dir, 'shard-dozzle.nas', 'cert.pem'));
    expect((await stat(files.keyFile)).mode & 0o777).toBe(0o600);
    const pem = await readFile(files.certFile, 'utf8');
    expect(readIdentity(pem)).toBe('shard-dozzle/nas');
    const info = describeCertificate(pem);
    expect(info.sans).toEqual(expect.arrayContaining(['URI:spiffe://homelab-mcp/shard-dozzle/nas', 'DNS:shard-dozzle.nas']));
    // The default instance's files are another identity's, untouched.
    expect(files.certFile).not.toBe(join(dir, 'shard-dozzle', 'cert.pem'));
  });

  it('refuses identities that are neither a component nor one instance of it', async () => {
    const ca = await createCa();
    for (const bad of ['shard-dozzle/', 'shard-dozzle/nas/x', 'shard-dozzle/NAS', '/nas']) {
      await expect(issueCertificate(ca, bad)).rejects.toThrow(/one instance of it after a slash, e.g. shard-dozzle\/nas/);
    }
  });
});

