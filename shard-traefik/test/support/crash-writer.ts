// Writes mcp-crash.yml over and over with the shard's atomic writer until killed.
import { writeFileAtomic } from '../../src/dynamic/files.js';

const dir = process.argv[2] ?? '';
const versions = [0, 1, 2].map((v) => `# managed-by: homelab-mcp shard-traefik\nversion: ${v}\n${'x'.repeat(64 * 1024)}\nend: ${v}\n`);
process.stdout.write('ready\n');
for (let i = 0; ; i++) await writeFileAtomic(dir, 'mcp-crash.yml', versions[i % 3]);
