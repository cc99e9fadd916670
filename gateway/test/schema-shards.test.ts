import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { commentOf } from '../src/schema/comments.js';
import type { InvalidArgumentsError} from '../src/schema/index.js';
import { buildToolSpecs, encodeRequest, type ToolSpec } from '../src/schema/index.js';
import { portabilityProblems } from './support/portability.js';

const descriptorSet = readFileSync(fileURLToPath(new URL('../../proto/gen/descriptor.binpb', import.meta.url)));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));

const SERVICES = {
  navigator: 'homelab.traefik.v1.NavigatorService',
  watchman: 'homelab.dozzle.v1.WatchmanService',
  gatekeeper: 'homelab.authentik.v1.GatekeeperService',
};
const BRIEF_TOOLS = ['get_routes', 'add_dynamic_config', 'check_ssl_status', 'tail_logs', 'search_logs', 'get_container_stats', 'sync_brand', 'create_application', 'manage_flows'];
const HELPER_TOOLS = ['remove_dynamic_config', 'list_dynamic_configs', 'list_containers', 'list_brands', 'list_applications', 'trace_request'];

const specs = Object.fromEntries(Object.entries(SERVICES).map(([shard, service]) => [shard, buildToolSpecs(registry, service)])) as Record<keyof typeof SERVICES, ToolSpec[]>;
const all = Object.values(specs).flat();
const tool = (name: string) => all.find((s) => s.name === name)!;

type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

/** Every (location, property name, property schema) in a schema, $defs included. */
function* properties(node: unknown, at = '#'): Generator<[string, string, Record<string, unknown>]> {
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (obj.properties && typeof obj.properties === 'object' && !Array.isArray(obj.properties)) {
    for (const [name, prop] of Object.entries(obj.properties as Record<string, Record<string, unknown>>)) yield [at, name, prop];
  }
  for (const [k, v] of Object.entries(obj)) if (v && typeof v === 'object' && k !== 'enum' && k !== 'examples' && k !== 'dependentSchemas') yield* properties(v, `${at}/${k}`);
}

describe('the three shard contracts as MCP tools', () => {
  it('are the nine tools of the brief plus the helpers, in snake_case', () => {
    expect(all.map((s) => s.name).sort()).toEqual([...BRIEF_TOOLS, ...HELPER_TOOLS].sort());
    expect(specs.navigator.map((s) => s.name)).toEqual(['get_routes', 'add_dynamic_config', 'remove_dynamic_config', 'list_dynamic_configs', 'check_ssl_status', 'trace_request']);
    for (const s of all) expect(s.name).toMatch(/^[a-z0-9_]{1,64}$/);
  });

  it('compile as strict JSON Schema 2020-12, input and output', () => {
    const ajv = addFormats(new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true }));
    for (const s of all) {
      for (const schema of [s.inputSchema, s.outputSchema]) {
        expect({ tool: s.name, valid: ajv.validateSchema(schema) }).toEqual({ tool: s.name, valid: true });
        expect(() => ajv.compile(schema)).not.toThrow();
      }
    }
  });

  it('describe every tool and every property, from the proto comments', () => {
    const undescribed: string[] = [];
    for (const s of all) {
      if (s.description.length < 20 || s.description.includes('//')) undescribed.push(`${s.name}: "${s.description}"`);
      for (const schema of [s.inputSchema, s.outputSchema]) {
        for (const [at, name, prop] of properties(schema)) {
          if (typeof prop.description !== 'string' || prop.description.trim().length < 3) undescribed.push(`${s.name} ${at}/${name}`);
        }
      }
    }
    expect(undescribed).toEqual([]);
    // Each description comes from a comment in the contract, not from the fallback.
    const uncommented: string[] = [];
    const seen = new Set<string>();
    const visit = (m: DescMessage) => {
      if (seen.has(m.typeName) || m.typeName.startsWith('google.protobuf.')) return;
      seen.add(m.typeName);
      for (const f of m.fields) {
        if (!commentOf(f)) uncommented.push(`${m.typeName}.${f.name}`);
        const next = f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message') || (f.fieldKind === 'map' && f.mapKind === 'message') ? f.message : undefined;
        if (next) visit(next);
      }
    };
    for (const s of all) {
      visit(s.method.input);
      visit(s.method.output);
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(uncommented).toEqual([]);
    const getRoutes = tool('get_routes');
    expect(getRoutes.description).toMatch(/^List Traefik routers with what they route: .* \(for example host "gitea.home.lan" answers "is my Gitea route OK\?"\)\.$/);
  });

  it('carry the tool options: read-only tools, plan -> apply tools, streaming, deadlines', () => {
    expect(tool('get_routes')).toMatchObject({ title: 'Get Traefik routes', annotations: { readOnlyHint: true, openWorldHint: true }, timeoutMs: 10000, streaming: false });
    expect(tool('add_dynamic_config')).toMatchObject({ requiresConfirmation: true, annotations: { readOnlyHint: false }, timeoutMs: 30000, maxTimeoutMs: 60000 });
    expect(tool('remove_dynamic_config')).toMatchObject({ requiresConfirmation: true, annotations: { destructiveHint: true } });
    expect(tool('tail_logs').streaming).toBe(true);
    expect(tool('search_logs').streaming).toBe(true);
    for (const name of ['add_dynamic_config', 'remove_dynamic_config', 'create_application', 'sync_brand']) {
      expect({ name, plan_id: Object.keys(tool(name).inputSchema.properties as object).includes('plan_id') }).toEqual({ name, plan_id: true });
    }
  });

  it('enforce the field rules of the contracts on arguments', () => {
    const create = tool('create_application');
    expect(create.inputSchema.required).toEqual(expect.arrayContaining(['name', 'slug']));
    const bad = (() => {
      try {
        encodeRequest(create, { name: 'Pinchflat', slug: 'pinch flat', launch_url: 'not a url', proxy: {}, oauth2: {} });
      } catch (err) {
        return (err as InvalidArgumentsError).violations.map((v) => v.path).sort();
      }
      return [];
    })();
    expect(bad).toEqual(['launch_url', 'oauth2', 'oauth2.redirect_uris', 'proxy.external_host', 'slug']);
    const flows = tool('manage_flows').inputSchema.properties as Record<string, { description: string }>;
    expect(flows.list?.description).toContain('one of: list, get, export, import, delete');
  });

  it('publish input schemas every client can read, while arguments are still checked exactly', () => {
    // The exact schemas use what some clients refuse (oneof exclusions as false subschemas, type arrays) ...
    expect(all.flatMap((s) => portabilityProblems(s.inputSchema)).length).toBeGreaterThan(0);
    // ... the published ones do not, and say the same rules in words.
    expect(all.flatMap((s) => portabilityProblems(s.publishedInputSchema).map((p) => `${s.name} ${p}`))).toEqual([]);
    const flows = tool('manage_flows');
    const published = flows.publishedInputSchema.properties as Record<string, { description: string }>;
    expect(published.list?.description).toContain('Set at most one of: list, get, export, import, delete');
    expect(() => encodeRequest(flows, { list: {}, get: { slug: 'x' } })).toThrow(/cannot be set together/);
  });

  it('require a list that must have items, so a call without it says what it needs', () => {
    const ssl = tool('check_ssl_status');
    expect(ssl.inputSchema.required).toEqual(['hosts']);
    expect(ssl.publishedInputSchema.required).toEqual(['hosts']);
    let violations: { path: string; message: string; example?: unknown }[] = [];
    try {
      encodeRequest(ssl, {});
    } catch (err) {
      violations = (err as InvalidArgumentsError).violations;
    }
    expect(violations).toEqual([{ path: 'hosts', message: 'is required', example: ['gitea.home.lan'] }]);
  });
});
