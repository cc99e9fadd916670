import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Path of a vendored upstream file (homelab-sim/fixtures/upstream/<rel>),
 * found through the package so it works from the sources and from a bundle.
 */
export function upstreamFixture(rel: string): string {
  return require.resolve(`@homelab-mcp/homelab-sim/fixtures/upstream/${rel}`);
}
