import { z } from 'zod';
import { splitHostPort } from '@homelab-mcp/pki/address.js';
import { INSTANCE_PATTERN } from '@homelab-mcp/pki/identity.js';
import type { ListenConfig } from './serve.js';

const flag = z.enum(['0', '1', 'true', 'false']).default('0');
const isOn = (v: string) => v === '1' || v === 'true';

/** The listening and mTLS settings every shard reads from its environment. */
export const shardListenConfigSchema = z
  .object({
    SHARD_LISTEN: z
      .string()
      .refine((v) => splitHostPort(v) !== undefined, 'must be host:port')
      .default('127.0.0.1:50051')
      .meta({ examples: ['0.0.0.0:50051'] }),
    SHARD_TLS_CA: z.string().min(1).optional().meta({ examples: ['/certs/ca.pem'] }),
    SHARD_TLS_CERT: z.string().min(1).optional().meta({ examples: ['/certs/shard-example/cert.pem'] }),
    SHARD_TLS_KEY: z.string().min(1).optional().meta({ examples: ['/certs/shard-example/key.pem'] }),
    SHARD_ALLOWED_PEERS: z.string().min(1).default('gateway').meta({ examples: ['gateway'] }),
    SHARD_PLAINTEXT: flag.meta({ examples: ['1'], description: 'loopback SHARD_LISTEN only' }),
    SHARD_INSTANCE: z
      .string()
      .default('')
      .refine((v) => v === '' || INSTANCE_PATTERN.test(v), 'must be lowercase letters, digits and dashes (the node this instance serves), or empty for the default instance')
      .meta({ examples: ['nas'], description: 'the node this instance serves; its certificate names shard-<name>/<instance>' }),
  })
  .superRefine((e, ctx) => {
    if (isOn(e.SHARD_PLAINTEXT)) return;
    for (const k of ['SHARD_TLS_CA', 'SHARD_TLS_CERT', 'SHARD_TLS_KEY'] as const) {
      if (!e[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'is required for mTLS (or set SHARD_PLAINTEXT=1 on a loopback SHARD_LISTEN)' });
    }
  });

export type ShardListenEnv = z.infer<typeof shardListenConfigSchema>;

/** Turns the parsed SHARD_* variables into serve()'s listen settings. */
export function toListenConfig(e: ShardListenEnv): ListenConfig {
  const { host, port } = splitHostPort(e.SHARD_LISTEN) ?? { host: '127.0.0.1', port: 50051 };
  const instance = e.SHARD_INSTANCE ? { instance: e.SHARD_INSTANCE } : {};
  if (isOn(e.SHARD_PLAINTEXT)) return { host, port, tls: 'plaintext', ...instance };
  return {
    host,
    port,
    ...instance,
    tls: {
      caFile: e.SHARD_TLS_CA ?? '',
      certFile: e.SHARD_TLS_CERT ?? '',
      keyFile: e.SHARD_TLS_KEY ?? '',
      allowedPeers: e.SHARD_ALLOWED_PEERS.split(',').map((s) => s.trim()).filter(Boolean),
    },
  };
}
