import * as yaml from 'js-yaml';
import { ShardError } from '@homelab-mcp/shard-kit';

/**
 * What a blueprint given to manage_flows import may be. The same numbers are
 * in the contract's description of ImportFlow.yaml; keep them together.
 */
export const BLUEPRINT_LIMITS = {
  /** UTF-8 bytes. Authentik's own flow exports are a few KiB. */
  maxBytes: 262_144,
  maxLines: 10_000,
  /** Nesting of mappings and sequences. */
  maxDepth: 64,
  /** Alias nodes (`*name`); Authentik's exporter writes none. */
  maxAliases: 100,
} as const;

const FIELD = 'import.yaml';

/** The custom tags of Authentik's BlueprintLoader (authentik/blueprints/v1/common.py). */
export const AUTHENTIK_TAGS = ['!KeyOf', '!Find', '!FindObject', '!Context', '!Format', '!Condition', '!If', '!Env', '!File', '!Enumerate', '!Value', '!Index', '!AtIndex', '!ParseJSON'] as const;

/** A value under one of Authentik's tags; Authentik resolves it at import time, the shard only carries it. */
export class TaggedValue {
  constructor(readonly tag: string, readonly value: unknown) {}
}

const never = () => false;
// Each tag in every node kind it can take, the way PyYAML hands any node to the tag's constructor.
const SCHEMA = yaml.YAML11_SCHEMA.withTags(
  AUTHENTIK_TAGS.flatMap((tag) => [
    yaml.defineScalarTag(tag, { resolve: (source: string) => new TaggedValue(tag, source), identify: never }),
    yaml.defineSequenceTag<unknown[], TaggedValue>(tag, { create: () => [], addItem: (c, item) => void c.push(item), finalize: (c) => new TaggedValue(tag, c), identify: never }),
    yaml.defineMappingTag<Map<unknown, unknown>, TaggedValue>(tag, {
      create: () => new Map(),
      addPair: (c, k, v) => (c.set(k, v), ''),
      has: (c, k) => c.has(k),
      keys: (r) => (r.value as Map<unknown, unknown>).keys(),
      get: (r, k) => (r.value as Map<unknown, unknown>).get(k),
      finalize: (c) => new TaggedValue(tag, c),
      identify: never,
    }),
  ]),
);

export interface FlowInBlueprint {
  /** The slug, or how Authentik will compute it (e.g. "!Context slug"). */
  slug: string;
  /** Where in the blueprint, e.g. "entries[1]". */
  path: string;
}

export interface ParsedBlueprint {
  name: string;
  flows: FlowInBlueprint[];
  entryCount: number;
}

function invalid(description: string, hint = 'Export a flow with manage_flows export to see the format.'): ShardError {
  return new ShardError('INVALID_ARGUMENT', `${FIELD}: ${description}`, { fieldViolations: [{ field: FIELD, description }], hint });
}

function countLines(text: string, stopAfter: number): number {
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1 && lines <= stopAfter; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TaggedValue);

function describe(v: unknown): string {
  if (v instanceof TaggedValue) return typeof v.value === 'string' ? `${v.tag} ${v.value}` : `(computed by ${v.tag})`;
  return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
}

/**
 * Reads a flow blueprint as Authentik does (YAML 1.1 with Authentik's tags),
 * within BLUEPRINT_LIMITS, so the cost is linear in the input and bounded.
 * Errors name the field, the line and what to change.
 */
export function parseFlowBlueprint(text: string): ParsedBlueprint {
  const { maxBytes, maxLines, maxDepth, maxAliases } = BLUEPRINT_LIMITS;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw invalid(`is ${bytes} bytes long; at most ${maxBytes} bytes (256 KiB) are accepted`, 'Import the flow in Authentik\'s UI, or split the blueprint.');
  const lines = countLines(text, maxLines);
  if (lines > maxLines) throw invalid(`has more than ${maxLines} lines; at most ${maxLines} lines are accepted`, 'Remove blank lines and comments, or split the blueprint.');

  let doc: unknown;
  try {
    // json: duplicate keys override earlier ones, as in PyYAML, instead of failing.
    doc = yaml.load(text, { schema: SCHEMA, maxDepth, maxAliases, json: true, filename: FIELD });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
      const tags = err.reason.startsWith('unknown') && err.reason.includes(' tag ') ? ` (Authentik's tags are ${AUTHENTIK_TAGS.join(', ')})` : '';
      throw invalid(`is not valid YAML${where}: ${err.reason}${tags}`, 'Fix the YAML there (blueprints are YAML 1.1 with Authentik\'s tags such as !KeyOf and !Find).');
    }
    if (err instanceof RangeError) throw invalid(`nests too deeply (at most ${maxDepth} levels)`);
    throw err;
  }

  if (!isRecord(doc)) throw invalid('is not a blueprint: the document must be a mapping with "version" and "entries"');
  const sections: [string, unknown][] = Array.isArray(doc.entries)
    ? [['entries', doc.entries]]
    : isRecord(doc.entries)
      ? Object.entries(doc.entries).map(([k, v]) => [`entries.${k}`, v])
      : [];
  if (!sections.length) throw invalid('is not a blueprint: it has no "entries" list');

  const flows: FlowInBlueprint[] = [];
  let entryCount = 0;
  for (const [base, list] of sections) {
    if (!Array.isArray(list)) throw invalid(`${base} must be a list of entries`);
    for (const [i, entry] of list.entries()) {
      const path = `${base}[${i}]`;
      entryCount++;
      if (!isRecord(entry)) throw invalid(`${path} must be a mapping with "model"`);
      if (typeof entry.model !== 'string' || !/^[a-z0-9_]+\.[a-z0-9_]+$/.test(entry.model)) {
        throw invalid(`${path}.model must be a model name such as "authentik_flows.flow" (got ${describe(entry.model)})`);
      }
      if (entry.model !== 'authentik_flows.flow') continue;
      const ids = isRecord(entry.identifiers) ? entry.identifiers : {};
      const attrs = isRecord(entry.attrs) ? entry.attrs : {};
      const slug = ids.slug ?? attrs.slug;
      flows.push({ slug: slug === undefined ? '(no slug)' : describe(slug), path });
    }
  }
  if (!flows.length) throw invalid('is not a flow blueprint: no entry has model authentik_flows.flow');
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  return { name: typeof metadata.name === 'string' ? metadata.name : '', flows, entryCount };
}
