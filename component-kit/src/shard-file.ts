import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { z } from 'zod';
import { INSTANCE_PATTERN } from '@homelab-mcp/pki/identity.js';

/**
 * The gateway's shard file (GATEWAY_CONFIG), as the gateway and the doctor
 * read it. Strict: a misspelt key (`shard:`, `instnace:`) is an error, not a
 * file that silently lists nothing or the wrong instance.
 */
const shardFileSchema = z.strictObject({
  shards: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z][a-z0-9-]*$/),
        instance: z.string().regex(INSTANCE_PATTERN).optional(),
        url: z.string().min(1),
        identity: z.string().min(1).optional(),
        plaintext: z.boolean().optional(),
        services: z.array(z.string().min(1)).optional(),
      }),
    )
    .default([]),
});

export type ShardFile = z.infer<typeof shardFileSchema>;

/** A shard's address as given: grpc://, grpcs:// or http(s):// prefixes people paste are dropped; the channel itself decides TLS. */
export function stripScheme(url: string): string {
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

/**
 * Reads a shard file (YAML, or JSON by its extension). A file not written yet
 * in a directory that is there (a deployment's mounted directory) lists no
 * shards; it is read once it appears. A missing directory is a mistyped path.
 * Throws an Error saying what is wrong with the file.
 */
export function readShardFile(path: string): ShardFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(dirname(path))) return { shards: [] };
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  const json = /\.json$/i.test(path);
  let doc: unknown;
  try {
    doc = json ? JSON.parse(text) : loadYaml(text);
  } catch (err) {
    throw new Error(`${path} is not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const parsed = shardFileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}; expected { shards: [{ name: traefik, url: shard-traefik:50051 }] }`);
  }
  return parsed.data;
}
