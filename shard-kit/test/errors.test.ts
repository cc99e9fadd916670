import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { HttpStatusError, ShardError, upstreamError } from '../src/index.js';

describe('upstreamError', () => {
  it.each([
    [401, 'UNAUTHENTICATED'],
    [403, 'PERMISSION_DENIED'],
    [404, 'NOT_FOUND'],
    [409, 'ALREADY_EXISTS'],
    [429, 'RESOURCE_EXHAUSTED'],
    [502, 'UNAVAILABLE'],
    [400, 'INVALID_ARGUMENT'],
  ])('maps HTTP %i to %s with the upstream message and a hint', (status, code) => {
    const err = upstreamError(new HttpStatusError(status, '{"detail":"Token invalid/expired"}', 'http://a/api'), 'Authentik API');
    expect(err.code).toBe(code);
    expect(err.message).toContain(`Authentik API answered ${status}: Token invalid/expired`);
    expect(err.hint).toBeTruthy();
  });

  it('maps a refused connection (real fetch to a closed port) to UNAVAILABLE', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const err = await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (e: unknown) => upstreamError(e, 'Traefik API'));
    expect(err?.code).toBe('UNAVAILABLE');
    expect(err?.message).toBe('Traefik API refused the connection');
    expect(err?.hint).toMatch(/running and reachable/);
  });

  it('maps a timeout to DEADLINE_EXCEEDED and an abort to CANCELLED', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const timeout = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(50) }).then(() => undefined, (e: unknown) => upstreamError(e, 'Dozzle API'));
    const ac = new AbortController();
    const pending = fetch(`http://127.0.0.1:${port}/`, { signal: ac.signal }).then(() => undefined, (e: unknown) => upstreamError(e, 'Dozzle API'));
    ac.abort();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    expect(timeout?.code).toBe('DEADLINE_EXCEEDED');
    expect((await pending)?.code).toBe('CANCELLED');
  });

  it('passes a ShardError through unchanged', () => {
    const e = new ShardError('FAILED_PRECONDITION', 'the dynamic directory is not writable');
    expect(upstreamError(e, 'x')).toBe(e);
  });
});
