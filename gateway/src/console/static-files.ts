import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const PAGE = 'index.html';

/**
 * Where the console's files are, resolved as the package exports them: from
 * the sources, the bundle in dist/ and an image alike (whose runtime tree
 * copies the directory a run-time resolve names).
 */
function consoleDir(): string {
  return dirname(require.resolve(`@homelab-mcp/gateway/console/${PAGE}`));
}

export interface StaticFile {
  type: string;
  body: Buffer;
}

/** The console's files, read once at start: plain HTML, CSS and JavaScript, nothing to build. */
export function loadConsoleFiles(dir = consoleDir()): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return files;
}
