import { describe, expect, it } from '@jest/globals';
import { ContractDriftError, assertResponse, completeResponse } from '../src/authentik/contract.js';

describe('Authentik stand-in responses are checked against the release schema', () => {
  it.each(['2026.8.3', '2026.2.6'] as const)('refuses to answer with a body that drifts from %s', (version) => {
    expect(() => assertResponse(version, 'Pagination', { count: '3' })).toThrow(ContractDriftError);
    expect(() => assertResponse(version, 'Pagination', { count: '3' })).toThrow(/Pagination of Authentik .*"current":\["This field is required."\]/);
    expect(() => completeResponse(version, 'Flow', { pk: 'not-a-uuid', slug: 'x', name: 'x', title: 'x', designation: 'authentication' })).toThrow(/does not match Flow/);
  });

  it('accepts what the real API sends although its schema says otherwise: a blank URL field', () => {
    expect(() => completeResponse('2026.8.3', 'Application', { pk: '9d1e2f3a-1b2c-4d5e-8f90-123456789abc', name: 'Gitea', slug: 'gitea', meta_launch_url: '' })).not.toThrow();
    expect(() => completeResponse('2026.8.3', 'Application', { pk: '9d1e2f3a-1b2c-4d5e-8f90-123456789abc', name: 'Gitea', slug: 'gitea', meta_launch_url: 'not a url' })).toThrow(/meta_launch_url/);
  });
});
