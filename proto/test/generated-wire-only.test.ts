import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const root = process.cwd();

/** Lints `code` as if it were the file at `path` (relative to the checkout); resolves with the rules that fired. */
function lint(path: string, code: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', '--stdin', '--stdin-filename', path], { cwd: root });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const [result] = JSON.parse(out) as { messages: { ruleId: string | null }[] }[];
        resolve((result?.messages ?? []).map((m) => m.ruleId ?? 'none'));
      } catch (err) {
        reject(err);
      }
    });
    child.stdin.end(code);
  });
}

const handWritten = `import { BinaryWriter } from '@bufbuild/protobuf/wire';
export const status = new BinaryWriter().uint32(8).int32(5).finish();
`;

describe('protobuf wire code is generated only', () => {
  it('rejects hand-written wire encoding in sources and tests', async () => {
    expect(await lint('gateway/src/discovery/hand-written.ts', handWritten)).toContain('protobuf/generated-wire-only');
    expect(await lint('shard-kit/test/hand-written.test.ts', handWritten)).toContain('protobuf/generated-wire-only');
    const loader = `import { loadSync } from '@grpc/proto-loader';\nexport const health = loadSync('health.proto');\n`;
    expect(await lint('cli/src/hand-written.ts', loader)).toContain('protobuf/generated-wire-only');
    const unknown = `export const numbers = (m: { $unknown?: { no: number }[] }) => m.$unknown?.map((u) => u.no);\n`;
    expect(await lint('gateway/src/schema/hand-written.ts', unknown)).toContain('protobuf/generated-wire-only');
  });

  it('leaves generated code and the generated types alone', async () => {
    expect(await lint('proto/gen/ts/hand-written.ts', handWritten)).not.toContain('protobuf/generated-wire-only');
    const generated = `import { Status } from '@homelab-mcp/proto/ts/google/rpc/status.js';\nexport const bytes = Status.encode({ code: 5, message: 'gone', details: [] }).finish();\n`;
    expect(await lint('gateway/src/mcp/generated.ts', generated)).toEqual([]);
  });
});
