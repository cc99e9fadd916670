import { readFileSync } from 'node:fs';
import * as yaml from 'js-yaml';
import { upstreamFixture } from '../fixtures.js';

/** Blueprint YAML tags (!Find, !KeyOf, ...) kept as { tag: value } so the files parse as data. */
const tags = ['!Find', '!KeyOf', '!Condition', '!Env', '!Context', '!Format', '!If', '!Enumerate', '!Value', '!Index', '!AtIndex', '!ParseJSON', '!File'];
const never = () => false;
const schema = yaml.CORE_SCHEMA.withTags(
  tags.flatMap((tag) => [
    yaml.defineScalarTag(tag, { resolve: (source: string) => ({ [tag]: source }), identify: never }),
    yaml.defineSequenceTag<unknown[], Record<string, unknown>>(tag, { create: () => [], addItem: (c, item) => void c.push(item), finalize: (c) => ({ [tag]: c }), identify: never }),
    yaml.defineMappingTag<Record<string, unknown>, Record<string, unknown>>(tag, {
      create: () => ({}),
      addPair: (c, k, v) => ((c[String(k)] = v), ''),
      has: (c, k) => String(k) in c,
      keys: (r) => Object.keys(r),
      get: (r, k) => r[String(k)],
      finalize: (c) => ({ [tag]: c }),
      identify: never,
    }),
  ]),
);

export interface BlueprintEntry {
  model: string;
  identifiers?: Record<string, unknown>;
  attrs?: Record<string, unknown>;
  id?: string;
  state?: string;
}

export function parseBlueprint(text: string): { metadata?: { name?: string }; entries: BlueprintEntry[] } {
  const doc = yaml.load(text, { schema }) as { metadata?: { name?: string }; entries?: BlueprintEntry[] } | undefined;
  if (!doc || !Array.isArray(doc.entries)) throw new Error('not a blueprint: no entries');
  return { ...(doc.metadata ? { metadata: doc.metadata } : {}), entries: doc.entries };
}

export function readFixtureBlueprint(name: string): string {
  return readFileSync(upstreamFixture(`authentik/${name}`), 'utf8');
}

export const FLOW_BLUEPRINTS = [
  'flow-default-authentication-flow.yaml',
  'flow-default-invalidation-flow.yaml',
  'flow-default-provider-authorization-implicit-consent.yaml',
  'flow-default-provider-invalidation.yaml',
];
