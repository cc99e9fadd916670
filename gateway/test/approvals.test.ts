import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Approvals, type PlanForApproval } from '../src/approval/approvals.js';
import { AuditLog } from '../src/trust/audit.js';

const dir = mkdtempSync(join(tmpdir(), 'gw-approvals-'));
const audit = new AuditLog(join(dir, 'audit.log'), pino({ level: 'silent' }));
const approvals = new Approvals(audit);
approvals.setApply(() => Promise.resolve({ content: [{ type: 'text', text: 'applied for real' }] }));

const plan = (id: string, livesMs: number, secret = 'hunter2'): PlanForApproval => ({
  id,
  tool: 'sync_brand',
  subject: 'token:abc',
  arguments: { domain: 'home.lan', api_key: secret },
  shownArguments: { domain: 'home.lan', api_key: '[REDACTED]' },
  summary: 'change the title',
  diff: '-old\n+new',
  text: 'change the title',
  secretFields: ['api_key'],
  createdAt: Date.now(),
  expiresAt: Date.now() + livesMs,
});

afterAll(() => {
  approvals.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('plans waiting for a person', () => {
  it('expires a plan nobody decided on, tells whoever waits, and refuses a late decision', async () => {
    approvals.propose(plan('p-late', 30));
    const settled = await approvals.wait('p-late', 60_000, new AbortController().signal);
    expect(settled.status).toBe('expired');
    await expect(approvals.approve('p-late', 'alex', 'console')).rejects.toThrow(/Plan p-late was already expired; only a pending plan can be approved or rejected/);
  });

  it('ends a wait the caller cancels with the plan still pending', async () => {
    approvals.propose(plan('p-slow', 600_000));
    const abort = new AbortController();
    const waiting = approvals.wait('p-slow', 600_000, abort.signal);
    abort.abort();
    expect((await waiting).status).toBe('pending');
  });

  it('audits a decision with the approver and never the secret arguments', async () => {
    approvals.propose(plan('p-yes', 600_000, 'sekrit-value'));
    const record = await approvals.approve('p-yes', 'alex (token:abc)', 'console');
    expect(record).toMatchObject({ status: 'applied', outcome: 'applied for real', decision: { by: 'alex (token:abc)', via: 'console' } });
    const log = readFileSync(join(dir, 'audit.log'), 'utf8');
    expect(JSON.parse(log.trim().split('\n').at(-1)!)).toMatchObject({ planId: 'p-yes', result: 'approved', approver: 'alex (token:abc)', via: 'console', arguments: { api_key: '[REDACTED]' } });
    expect(log).not.toContain('sekrit-value');
  });

  it('says a plan it never saw is unknown', async () => {
    await expect(approvals.approve('p-none', 'alex', 'console')).rejects.toMatchObject({ status: 404 });
    expect(() => approvals.reject('p-none', 'alex', 'console', 'no')).toThrow(/No plan p-none waits for approval/);
  });
});
