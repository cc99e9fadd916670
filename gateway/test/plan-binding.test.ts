import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { bindRequest } from '@homelab-mcp/plan-binding';
import * as gatekeeper from '@homelab-mcp/proto/ts/homelab/authentik/v1/gatekeeper.js';
import * as watchman from '@homelab-mcp/proto/ts/homelab/dozzle/v1/watchman.js';
import * as kitchenSink from '@homelab-mcp/proto/ts/homelab/testing/v1/kitchen_sink.js';
import * as navigator from '@homelab-mcp/proto/ts/homelab/traefik/v1/navigator.js';
import { needsPlan, planBinding, planIdOf, setPlanId } from '../src/call/plans.js';
import { buildToolSpecs, decodeArguments, encodeMessage, type ToolSpec } from '../src/schema/index.js';
import { ArgsFuzzer, Rng, type JsonSchema } from './support/fuzz-args.js';

// The gateway binds a plan to the request it decoded from the arguments
// (protobuf-es); a shard binds it to the request ts-proto decoded from the
// wire (shard-kit's planRequest: bindRequest of the generated toJSON). Both
// must name the same request the same way, for every tool that takes a plan.

const descriptorSet = readFileSync(fileURLToPath(new URL('../../proto/gen/descriptor.binpb', import.meta.url)));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const services = ['homelab.traefik.v1.NavigatorService', 'homelab.dozzle.v1.WatchmanService', 'homelab.authentik.v1.GatekeeperService', 'homelab.testing.v1.KitchenSinkService'];
const planTools = services.flatMap((s) => buildToolSpecs(registry, s)).filter(needsPlan);

interface Codec {
  decode(bytes: Uint8Array): unknown;
  toJSON(message: unknown): unknown;
}
const generated = { ...navigator, ...watchman, ...gatekeeper, ...kitchenSink } as unknown as Record<string, Codec>;

/** What a shard computes for the bytes it receives. */
const shardBinding = (spec: ToolSpec, bytes: Uint8Array) => {
  const codec = generated[spec.method.input.name]!;
  return bindRequest(codec.toJSON(codec.decode(bytes)));
};

/** Arguments with every field of the request set, as a user would send them. */
const FULL: Record<string, Record<string, unknown>[]> = {
  add_dynamic_config: [
    {
      name: 'pinchflat',
      hosts: ['pinchflat.home.lan', 'pf.home.lan'],
      path_prefix: '/api',
      entry_points: ['websecure'],
      tls: { cert_resolver: 'le', options: 'modern@file' },
      middlewares: ['auth@docker'],
      new_middlewares: [{ redirect_to_https: {} }, { headers: {} }],
      service: { urls: ['http://10.0.0.7:8945'], pass_host_header: false, health_check: { path: '/health', interval_seconds: 10, timeout_seconds: 0 } },
      priority: '-9223372036854775808',
    },
    { name: 'x', rule: 'Host(`x.home.lan`)', service: { urls: ['http://10.0.0.8'] }, priority: '0' },
  ],
  remove_dynamic_config: [{ name: 'gitea' }],
  sync_brand: [
    {
      domain: 'auth.home.lan',
      title: '',
      logo: 'https://x/logo.png',
      favicon: 'https://x/f.ico',
      default: false,
      flows: { authentication: 'default-authentication-flow', invalidation: '' },
      attributes: { settings: { theme: { base: 'dark' } }, n: -0, list: [1, 'two', null, true, { k: 1.5 }], empty: {} },
    },
  ],
  create_application: [
    { name: 'Gitea', slug: 'gitea', launch_url: 'https://git.home.lan', group: 'dev', proxy: { mode: 'PROXY_MODE_FORWARD_SINGLE', external_host: 'https://git.home.lan' }, bind_to_embedded_outpost: false },
    { name: 'Grafana', slug: 'grafana', oauth2: { client_type: 'CLIENT_TYPE_PUBLIC', redirect_uris: [{ url: 'https://g/cb', matching_mode: 'MATCHING_MODE_REGEX' }], scopes: ['openid', 'email'] } },
  ],
  manage_flows: [{ import: { yaml: 'version: 1\nentries: []\n', clear: true } }, { delete: { slug: 'old-flow' } }],
};

describe('plan binding, gateway and shard', () => {
  it('covers every tool that takes a plan', () => {
    expect(planTools.map((s) => s.name).sort()).toEqual(['add_dynamic_config', 'change', 'create_application', 'manage_flows', 'remove_dynamic_config', 'sync_brand']);
    for (const spec of planTools) expect(generated[spec.method.input.name]).toBeDefined();
  });

  it('gives the same binding on both sides, for full arguments and for arguments on the edge of each schema', () => {
    let compared = 0;
    for (const spec of planTools) {
      const fuzzer = new ArgsFuzzer(new Rng(17), { name: spec.name, inputSchema: spec.inputSchema as JsonSchema });
      const edges = Array.from({ length: 150 }, () => fuzzer.edge()?.args).filter((a) => a !== undefined);
      const full = FULL[spec.name] ?? [];
      for (const args of [...full, ...edges]) {
        let request;
        try {
          request = decodeArguments(spec, args);
        } catch (err) {
          if (full.includes(args)) throw err;
          continue; // the schema allows more than the contract (an edge case the gateway refuses)
        }
        expect({ tool: spec.name, args, binding: planBinding(spec, request.message) }).toEqual({ tool: spec.name, args, binding: shardBinding(spec, request.bytes) });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(planTools.length * 50);
  });

  it('binds a dry run and its apply alike, and different arguments apart', () => {
    const spec = planTools.find((s) => s.name === 'add_dynamic_config')!;
    const dryRun = decodeArguments(spec, FULL.add_dynamic_config![0]);
    const binding = planBinding(spec, dryRun.message);
    setPlanId(spec, dryRun.message, 'plan-1');
    expect(planIdOf(spec, dryRun.message)).toBe('plan-1');
    expect(planBinding(spec, dryRun.message)).toBe(binding);
    expect(shardBinding(spec, encodeMessage(spec, dryRun.message))).toBe(binding);
    const other = decodeArguments(spec, { ...FULL.add_dynamic_config![0], priority: '1' });
    expect(planBinding(spec, other.message)).not.toBe(binding);
  });
});
