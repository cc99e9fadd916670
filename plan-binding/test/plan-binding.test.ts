import { describe, expect, it } from '@jest/globals';
import { PlanLedger, PlanRefusal, bindRequest } from '../src/index.js';

describe('bindRequest', () => {
  it('ignores key order and the plan id, and nothing else', () => {
    const dryRun = bindRequest({ name: 'gitea', service: { urls: ['http://a'], passHostHeader: true }, hosts: ['g.home.lan'] });
    expect(bindRequest({ hosts: ['g.home.lan'], service: { passHostHeader: true, urls: ['http://a'] }, name: 'gitea', planId: 'p-1' })).toBe(dryRun);
    expect(bindRequest({ name: 'gitea', service: { urls: ['http://b'], passHostHeader: true }, hosts: ['g.home.lan'] })).not.toBe(dryRun);
    expect(bindRequest({ name: 'gitea', service: { urls: ['http://a'] }, hosts: ['g.home.lan'] })).not.toBe(dryRun);
    // Order inside a list is part of the request.
    expect(bindRequest({ hosts: ['a', 'b'] })).not.toBe(bindRequest({ hosts: ['b', 'a'] }));
  });

  it('drops the plan id at the top only: a nested field or map key of that name is an argument', () => {
    expect(bindRequest({ labels: { planId: 'x' } })).not.toBe(bindRequest({ labels: {} }));
  });
});

describe('PlanLedger', () => {
  const refusalOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof PlanRefusal ? err.reason : err;
    }
    return 'redeemed';
  };

  it('redeems a plan once, for the same binding, to its owner', () => {
    const ledger = new PlanLedger<{ subject: string }>({ ttlMs: 60_000 });
    ledger.issue('p', 'b1', { subject: 'alice' });
    expect(refusalOf(() => ledger.redeem('p', 'b1', (d) => d.subject === 'bob'))).toBe('unknown');
    expect(refusalOf(() => ledger.redeem('p', 'b2'))).toBe('mismatch');
    expect(ledger.redeem('p', 'b1', (d) => d.subject === 'alice')).toEqual({ subject: 'alice' });
    expect(refusalOf(() => ledger.redeem('p', 'b1'))).toBe('used');
    expect(refusalOf(() => ledger.redeem('nope', 'b1'))).toBe('unknown');
  });

  it('refuses an expired plan and forgets it', () => {
    const ledger = new PlanLedger<null>({ ttlMs: 60_000 });
    ledger.issue('old', 'b', null, Date.now() - 1);
    expect(refusalOf(() => ledger.redeem('old', 'b'))).toBe('expired');
    expect(refusalOf(() => ledger.redeem('old', 'b'))).toBe('unknown');
  });

  it('keeps at most `max` plans, dropping the oldest first', () => {
    const ledger = new PlanLedger<null>({ ttlMs: 60_000, max: 2 });
    for (const id of ['a', 'b', 'c']) ledger.issue(id, 'x', null);
    expect(ledger.size).toBe(2);
    expect(refusalOf(() => ledger.redeem('a', 'x'))).toBe('unknown');
    expect(refusalOf(() => ledger.redeem('c', 'x'))).toBe('redeemed');
  });
});
