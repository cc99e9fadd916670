import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { AuditLog } from '../src/trust/audit.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('audit log', () => {
  it('writes JSON lines with secrets redacted, mode 0600', async () => {
    const log = new AuditLog(join(dir, 'a', 'audit.log'), pino({ level: 'silent' }));
    log.write({ subject: 'alice', tool: 'create_application', arguments: { name: 'x', oauth2: { client_secret: 'hunter2', redirect_uris: [{ url: 'https://x' }] }, api_token: 'abc' }, result: 'planned', durationMs: 12 });
    log.write({ subject: 'alice', tool: 'sync_brand', arguments: { domain: 'auth.home.lan', note: 'n' }, planId: 'p1', result: 'applied', durationMs: 3 }, ['homelab.authentik.v1.SyncBrandRequest.note']);
    const file = join(dir, 'a', 'audit.log');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const [first, second] = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ subject: 'alice', tool: 'create_application', result: 'planned', arguments: { oauth2: { client_secret: '[REDACTED]' }, api_token: '[REDACTED]', name: 'x' } });
    expect(second).toMatchObject({ planId: 'p1', result: 'applied', arguments: { domain: 'auth.home.lan', note: '[REDACTED]' } });
  });

  it('rotates by size and keeps a bounded number of files', async () => {
    const file = join(dir, 'b', 'audit.log');
    const log = new AuditLog(file, pino({ level: 'silent' }), 200, 2);
    for (let i = 0; i < 20; i++) log.write({ subject: 's', tool: 't', arguments: { i }, result: 'ok', durationMs: 0 });
    expect((await readdir(join(dir, 'b'))).sort()).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    expect((await readFile(file, 'utf8')).length).toBeLessThanOrEqual(400);
  });
});
