#!/usr/bin/env node
// Regenerates everything under proto/gen from the .proto contracts:
//   - ts-proto TypeScript (grpc-js services) in proto/gen/ts
//   - the buf-built descriptor set with source info (comments, custom options)
//     that shards serve through reflection: proto/gen/descriptor.binpb
// `--out DIR` writes to DIR instead of proto/gen (the freshness test uses it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(root, 'proto', 'gen');
const buf = join(root, 'node_modules', '.bin', 'buf');
const run = (args) => execFileSync(buf, args, { cwd: root, stdio: 'inherit' });

run(['lint']);
rmSync(join(out, 'ts'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const template = {
  version: 'v2',
  clean: true,
  plugins: [
    {
      local: ['node', join(root, 'node_modules', 'ts-proto', 'protoc-gen-ts_proto')],
      out: join(out, 'ts'),
      opt: [
        'outputServices=grpc-js',
        'esModuleInterop=true',
        'importSuffix=.js',
        'env=node',
        'forceLong=string',
        'useOptionals=messages',
        'useDate=false',
        'outputTypeRegistry=false',
      ],
    },
  ],
};
// buf.gen.yaml documents the same options for `buf generate`; the script passes them
// explicitly so that --out can redirect the output.
run(['generate', '--template', JSON.stringify(template)]);
run(['build', '-o', join(out, 'descriptor.binpb')]);
