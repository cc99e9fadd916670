import { ensurePki } from '@homelab-mcp/pki';

export interface TestPki {
  caFile: string;
  gateway: { certFile: string; keyFile: string };
  /** shard-kit listen.tls for a shard with this identity, accepting only the gateway. */
  shardTls(identity: string): { caFile: string; certFile: string; keyFile: string; allowedPeers: string[] };
}

/** A private CA and one certificate per identity, made by the project's own pki package. */
export async function createTestPki(dir: string, identities: string[]): Promise<TestPki> {
  const pki = await ensurePki(dir, identities);
  const files = (identity: string) => {
    const id = pki.identities[identity];
    if (!id) throw new Error(`no certificate for ${identity}`);
    return { certFile: id.certFile, keyFile: id.keyFile };
  };
  return {
    caFile: pki.caFile,
    gateway: files('gateway'),
    shardTls: (identity) => ({ caFile: pki.caFile, ...files(identity), allowedPeers: ['gateway'] }),
  };
}
