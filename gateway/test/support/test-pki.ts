import { ensurePki } from '@homelab-mcp/pki';

export interface TestPki {
  caFile: string;
  gateway: { certFile: string; keyFile: string };
  /** shard-kit listen.tls for a shard with this identity, accepting only the gateway. */
  shardTls(identity: string): { caFile: string; certFile: string; keyFile: string; allowedPeers: string[] };
  /** A gateway on 127.0.0.1:0 with this PKI's gateway identity, keeping its data in dataDir. */
  gatewayEnv(dataDir: string): Record<string, string>;
}

/** Resolves once every shard of the gateway is serving (or throws, naming the ones that are not). */
export async function waitServing(gateway: { shards(): { name: string; state: string }[] }, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!gateway.shards().every((s) => s.state === 'serving')) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`shards not serving after ${timeoutMs} ms: ${gateway.shards().filter((s) => s.state !== 'serving').map((s) => `${s.name} (${s.state})`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
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
    gatewayEnv: (dataDir) => ({
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_DATA_DIR: dataDir,
      GATEWAY_TLS_CA: pki.caFile,
      GATEWAY_TLS_CERT: files('gateway').certFile,
      GATEWAY_TLS_KEY: files('gateway').keyFile,
    }),
  };
}
