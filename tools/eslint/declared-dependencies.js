// ESLint rule: a workspace package imports another one only by its name, and
// only when its package.json declares it: `dependencies` for its sources
// (src/), `dependencies` or `devDependencies` for everything else (tests,
// bench). A relative path into another package is refused, so a test cannot
// reach around the declared graph. Third-party packages are the root's.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');
const workspaces = new Set(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces);
const manifests = new Map();

function manifestOf(dir) {
  if (!manifests.has(dir)) {
    const file = join(root, dir, 'package.json');
    manifests.set(dir, existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
  }
  return manifests.get(dir);
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'imports of workspace packages must be declared in the importing package.json' },
    schema: [],
  },
  create(context) {
    const file = relative(root, context.filename);
    const dir = file.split(sep)[0];
    if (!workspaces.has(dir) || file.startsWith('..')) return {};
    const manifest = manifestOf(dir);
    if (!manifest) return {};
    const inSrc = file.startsWith(`${dir}${sep}src${sep}`);
    const allowed = new Set([manifest.name, ...Object.keys(manifest.dependencies ?? {}), ...(inSrc ? [] : Object.keys(manifest.devDependencies ?? {}))]);
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      if (source.startsWith('@homelab-mcp/')) {
        const name = source.split('/').slice(0, 2).join('/');
        if (!allowed.has(name)) {
          context.report({ node, message: `${name} is not declared in ${dir}/package.json (${inSrc ? 'dependencies' : 'dependencies or devDependencies'})` });
        }
      } else if (source.startsWith('.')) {
        const target = relative(join(root, dir), resolve(dirname(context.filename), source));
        if (target.startsWith('..')) {
          context.report({ node, message: `import another package by its name (@homelab-mcp/…), declared in ${dir}/package.json, not by the path ${source}` });
        }
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
