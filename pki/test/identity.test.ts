import { describe, expect, it } from '@jest/globals';
import { checkPeerIdentity, identityInSan, isLoopbackHost, peerIdentity, splitHostPort, splitSubjectAltName } from '../src/index.js';

// Every component reads identities and addresses through these; a wrong answer
// here lets an impostor shard in or turns plaintext on beyond loopback.

describe('subjectAltName', () => {
  it('splits what Node prints, quoted values included', () => {
    expect(splitSubjectAltName('DNS:localhost, IP Address:127.0.0.1, IP Address:::1, URI:spiffe://homelab-mcp/gateway')).toEqual([
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'IP Address:::1',
      'URI:spiffe://homelab-mcp/gateway',
    ]);
    expect(splitSubjectAltName('URI:"spiffe://homelab-mcp/a,b", DNS:x')).toEqual(['URI:spiffe://homelab-mcp/a,b', 'DNS:x']);
    expect(splitSubjectAltName(undefined)).toEqual([]);
  });

  it('finds the homelab-mcp identity among other URIs', () => {
    expect(identityInSan('URI:https://example.org/x, URI:spiffe://homelab-mcp/shard-dozzle')).toBe('shard-dozzle');
    expect(identityInSan('URI:spiffe://other-trust-domain/shard-dozzle')).toBeUndefined();
    expect(peerIdentity({ subjectaltname: 'DNS:gateway, URI:spiffe://homelab-mcp/gateway' })).toBe('gateway');
    expect(peerIdentity(undefined)).toBeUndefined();
  });

  it('accepts a peer only with the expected identity and says what it carries otherwise', () => {
    expect(checkPeerIdentity({ subjectaltname: 'URI:spiffe://homelab-mcp/shard-traefik' }, 'shard-traefik')).toBeUndefined();
    expect(checkPeerIdentity({ subjectaltname: 'URI:spiffe://homelab-mcp/shard-dozzle' }, 'shard-traefik')?.message).toBe(
      'the server is not shard-traefik: its certificate names spiffe://homelab-mcp/shard-dozzle, expected spiffe://homelab-mcp/shard-traefik',
    );
    // A DNS name that looks like the identity is not the identity.
    expect(checkPeerIdentity({ subjectaltname: 'DNS:shard-traefik' }, 'shard-traefik')?.message).toMatch(/names no identity/);
  });
});

describe('addresses', () => {
  it('counts only this machine as loopback', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'localhost.example.org', '128.0.0.1', '::ffff:10.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('splits host:port, IPv6 in brackets, and refuses what is not one', () => {
    expect(splitHostPort('shard-traefik:50051')).toEqual({ host: 'shard-traefik', port: 50051 });
    expect(splitHostPort('[::1]:8765')).toEqual({ host: '::1', port: 8765 });
    for (const bad of ['shard-traefik', '::1:8765', 'host:99999', 'host:']) expect(splitHostPort(bad)).toBeUndefined();
  });
});
