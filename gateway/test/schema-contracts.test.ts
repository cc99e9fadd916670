import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, createFileRegistry, fromBinary, toBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ContractError, InvalidArgumentsError, buildSurfaceSpec, buildToolSpecs, decodeResponse, encodeRequest, type ToolSpec } from '../src/schema/index.js';

// Contracts other shards could have, compiled with the repository's buf exactly as the real ones are.
const buf = fileURLToPath(new URL('../../node_modules/.bin/buf', import.meta.url));
const toolProto = fileURLToPath(new URL('../../proto/homelab/mcp/v1/tool.proto', import.meta.url));
const surfaceProto = fileURLToPath(new URL('../../proto/homelab/mcp/v1/surface.proto', import.meta.url));
let dir: string;

function compile(files: Record<string, string>): FileRegistry {
  const root = mkdtempSync(join(dir, 'module-'));
  mkdirSync(join(root, 'homelab/mcp/v1'), { recursive: true });
  cpSync(toolProto, join(root, 'homelab/mcp/v1/tool.proto'));
  cpSync(surfaceProto, join(root, 'homelab/mcp/v1/surface.proto'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
  const out = join(root, 'image.binpb');
  execFileSync(buf, ['build', root, '-o', out], { stdio: 'pipe' });
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
}

function violations(spec: ToolSpec, args: unknown) {
  try {
    encodeRequest(spec, args);
  } catch (err) {
    if (err instanceof InvalidArgumentsError) return err.violations;
    throw err;
  }
  return [];
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'schema-contracts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VAULT = `syntax = "proto3";
package vault.v1;
import "google/protobuf/any.proto";
import "google/protobuf/empty.proto";
import "homelab/mcp/v1/tool.proto";

/*
 * Vault keeps credentials.
 */
service VaultService {
  // Store a credential.
  //
  // The value is never logged:
  // - it is encrypted at rest
  // - it is redacted in audits
  rpc Store(StoreRequest) returns (StoreResponse) {
    option (homelab.mcp.v1.tool) = { destructive: true, idempotent: true };
  }
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);  // Check the vault answers.
  rpc Wrap(WrapRequest) returns (WrapRequest);
}

// Kind of credential.
enum Kind {
  // Not chosen.
  KIND_UNSPECIFIED = 0;
  // A password.
  KIND_PASSWORD = 1;
  // An API token.
  KIND_TOKEN = 2;
}

// What to store.
message StoreRequest {
  // Where the credential goes; exactly one target.
  oneof target {
    // A named slot.
    string slot = 1 [(homelab.mcp.v1.field).required = true];
    // A path.
    string path = 2;
  }
  // The kind (must be chosen).
  Kind kind = 3 [(homelab.mcp.v1.field).required = true];
  // The secret itself.
  string password = 4 [(homelab.mcp.v1.field) = { secret: true, examples: ["hunter2"] }];
  // Users who may read it.
  repeated User readers = 5 [(homelab.mcp.v1.field).min_items = 1];
  // Flags by name.
  map<bool, string> flags = 6;
  // Retries.
  uint32 retries = 7 [(homelab.mcp.v1.field) = { examples: ["3", "5"] }];
  // Labels.
  map<string, User> owners = 8 [(homelab.mcp.v1.field).max_items = 2];
}

// A user.
message User {
  // Login.
  string login = 1 [(homelab.mcp.v1.field) = { required: true, format: "email" }];
  // Their API token.
  string token = 2 [(homelab.mcp.v1.field).secret = true];
}

// The stored credential, echoed.
message StoreResponse {
  // The slot.
  string slot = 1;
  // The secret, as the shard reports it.
  string password = 2 [(homelab.mcp.v1.field).secret = true];
  // Readers.
  repeated User readers = 3;
}

// A wrapped message.
message WrapRequest {
  // Anything.
  google.protobuf.Any payload = 1;
}
`;

describe('contracts of any shard', () => {
  let specs: ToolSpec[];
  let registry: FileRegistry;
  const spec = (name: string) => specs.find((s) => s.name === name)!;
  beforeAll(() => {
    registry = compile({ 'vault.proto': VAULT });
    specs = buildToolSpecs(registry, 'vault.v1.VaultService');
  });

  it('keeps paragraphs and list items of comments, and reads trailing comments', () => {
    expect(spec('store').description).toBe('Store a credential.\n\nThe value is never logged:\n- it is encrypted at rest\n- it is redacted in audits');
    expect(spec('ping').description).toBe('Check the vault answers.');
    expect(spec('wrap').description).toBe('Wrap of vault.v1.VaultService.');
  });

  it('falls back to the MCP defaults when a tool has no options', () => {
    expect(spec('ping').annotations).toEqual({});
    expect(spec('ping').requiresConfirmation).toBe(false);
    expect(spec('ping').inputSchema).toMatchObject({ type: 'object', properties: {}, additionalProperties: false });
    expect(spec('store').annotations).toEqual({ readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false });
  });

  it('requires exactly one member of a oneof whose member is marked required', () => {
    const store = spec('store');
    const base = { kind: 'KIND_TOKEN', readers: [{ login: 'a@example.com' }] };
    expect(violations(store, base)).toEqual([{ path: '', message: 'set exactly one of: slot, path' }]);
    expect(violations(store, { ...base, path: '/x' })).toEqual([]);
    expect(violations(store, { ...base, slot: 's', path: '/x' })).toHaveLength(1);
    expect((store.inputSchema.properties as Record<string, { description: string }>).slot!.description).toContain('Set exactly one of: slot, path.');
  });

  it('offers no "unspecified" value for a required enum', () => {
    const kind = (spec('store').inputSchema.properties as Record<string, { enum: string[] }>).kind!;
    expect(kind.enum).toEqual(['KIND_PASSWORD', 'KIND_TOKEN']);
    const out = (spec('store').outputSchema.properties as Record<string, unknown>).kind;
    expect(out).toBeUndefined();
  });

  it('turns field rules into keywords of the right JSON type', () => {
    const p = spec('store').inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(p.retries).toMatchObject({ examples: [3, 5] });
    expect(p.password).toMatchObject({ examples: ['hunter2'] });
    expect(p.readers).toMatchObject({ minItems: 1 });
    expect(p.owners).toMatchObject({ maxProperties: 2 });
    expect(p.flags).toMatchObject({ propertyNames: { pattern: '^(true|false)$' } });
    const base = { slot: 's', kind: 'KIND_TOKEN' };
    expect(violations(spec('store'), { ...base, readers: [] })).toEqual([{ path: 'readers', message: 'must have at least 1 item' }]);
    expect(violations(spec('store'), { ...base, readers: [{ login: 'not-an-email' }] })).toEqual([{ path: 'readers[0].login', message: 'must be a valid email', example: 'admin@home.lan' }]);
    expect(violations(spec('store'), { ...base, readers: [{ login: 'a@b.example' }], flags: { yes: 'x' } })).toEqual([
      { path: 'flags.yes', message: 'is not a valid key here: keys are "true" or "false"' },
    ]);
  });

  it('lists secret fields by path for the audit log, and redacts them in results', () => {
    expect(spec('store').secretFields).toEqual(['password', 'readers[*].token', 'owners.*.token']);
    const response = registry.getMessage('vault.v1.StoreResponse')!;
    const user = registry.getMessage('vault.v1.User')!;
    const bytes = toBinary(response, create(response, { slot: 's', password: 'hunter2', readers: [create(user, { login: 'a', token: 'tok' })] } as never));
    expect(decodeResponse(spec('store'), bytes)).toEqual({ slot: 's', password: '[REDACTED]', readers: [{ login: 'a', token: '[REDACTED]' }] });
  });

  it('resolves Any through the shard registry', () => {
    const wrap = spec('wrap');
    const args = { payload: { '@type': 'type.googleapis.com/vault.v1.User', login: 'a@b.example', token: 't' } };
    const json = decodeResponse(wrap, encodeRequest(wrap, args));
    expect(json).toEqual(args);
    expect(violations(wrap, { payload: { '@type': 'type.googleapis.com/nope.Missing' } })).toEqual([
      { path: 'payload', message: 'must name a message type the shard knows in "@type" and hold its fields' },
    ]);
  });

  it('keeps working when a shard is rebuilt many times (validators are compiled once per build, not shared by accident)', () => {
    for (let i = 0; i < 50; i++) buildToolSpecs(registry, 'vault.v1.VaultService');
    expect(violations(spec('store'), { slot: 's', kind: 'KIND_TOKEN', readers: [{ login: 'a@b.example' }], extra: 1 })).toEqual([{ path: 'extra', message: 'unknown field (field names are snake_case, exactly as in the schema; the fields here are slot, path, kind, password, readers, flags, retries, owners)' }]);
  });

  it('refuses a spec it did not build', () => {
    const forged = { ...spec('store') };
    expect(() => encodeRequest(forged, {})).toThrow(/not built by buildToolSpecs/);
  });
});

describe('proto2 contracts, and contract mistakes named when the tools are built', () => {
  const broken = (field: string) => `syntax = "proto3";
package broken.v1;
import "homelab/mcp/v1/tool.proto";
// A service.
service BrokenService {
  // Do it.
  rpc Do(DoRequest) returns (DoRequest);
}
// A request.
message DoRequest {
  // The field.
  ${field}
}
`;

  it.each([
    ['a string rule on a number', 'int32 count = 1 [(homelab.mcp.v1.field).pattern = "^[0-9]+$"];', /broken\.v1\.DoRequest\.count: .*pattern needs a string field/],
    ['an unknown format', 'string when = 1 [(homelab.mcp.v1.field).format = "someday"];', /format "someday" is not a known JSON Schema format/],
    ['a regular expression that does not compile', 'string name = 1 [(homelab.mcp.v1.field).pattern = "(["];', /pattern is not a valid regular expression/],
    ['item limits on a single value', 'string name = 1 [(homelab.mcp.v1.field).max_items = 3];', /min_items\/max_items need a repeated or map field/],
  ])('%s', (_name, field, message) => {
    const registry = compile({ 'broken.proto': broken(field) });
    expect(() => buildToolSpecs(registry, 'broken.v1.BrokenService')).toThrow(ContractError);
    expect(() => buildToolSpecs(registry, 'broken.v1.BrokenService')).toThrow(message);
  });

  it('requires the required fields of proto2 contracts', () => {
    const registry = compile({
      'legacy.proto': `syntax = "proto2";
package legacy.v1;
// A service.
service LegacyService {
  // Look up a host.
  rpc Lookup(LookupRequest) returns (LookupRequest);
}
// A lookup.
message LookupRequest {
  // Host name.
  required string host = 1;
  // Port.
  optional int32 port = 2;
}
`,
    });
    const [lookup] = buildToolSpecs(registry, 'legacy.v1.LegacyService');
    expect(lookup!.inputSchema.required).toEqual(['host']);
    expect(violations(lookup!, { port: 80 })).toEqual([{ path: 'host', message: 'is required' }]);
    expect(decodeResponse(lookup!, encodeRequest(lookup!, { host: 'a' }))).toEqual({ host: 'a' });
  });

  it('names a service the shard does not have', () => {
    const registry = compile({ 'broken.proto': broken('string name = 1;') });
    expect(() => buildToolSpecs(registry, 'broken.v1.Missing')).toThrow(/broken\.v1\.Missing is not in the shard's descriptors/);
  });
});

describe('surface declarations that do not fit their RPCs are refused, naming the RPC and what would fit', () => {
  const contract = (rpcs: string) => `syntax = "proto3";
package odd.v1;
import "homelab/mcp/v1/surface.proto";
import "homelab/mcp/v1/tool.proto";
// A service.
service OddService {
${rpcs}
  // Watches.
  rpc Watch(ReadRequest) returns (stream ReadRequest);
  // Suggests.
  rpc Suggest(homelab.mcp.v1.CompleteRequest) returns (homelab.mcp.v1.CompleteResponse);
}
// What to read.
message ReadRequest {
  // Its name.
  string name = 1;
  // A list.
  repeated string tags = 2;
}
// A field completed by something that is not a completion RPC.
message WrongRequest {
  // The field.
  string wrong = 1 [(homelab.mcp.v1.field).complete_with = "Watch"];
}
`;
  const resource = (options: string, signature = '(ReadRequest) returns (homelab.mcp.v1.ResourceContents)') => `  // Reads.\n  rpc Read${signature} {\n    option (homelab.mcp.v1.resource) = { ${options} };\n  }`;

  it.each([
    ['a resource read by a stream', resource('uri: "odd://x"', '(ReadRequest) returns (stream homelab.mcp.v1.ResourceContents)'), /odd\.v1\.OddService\.Read: a resource is read by a unary RPC/],
    ['a URI that is not one', resource('uri: "just-a-name"'), /uri "just-a-name" is not a URI/],
    ['a template variable that is no field', resource('uri: "odd://{missing}"'), /the URI variable \{missing\} is not a scalar field of odd\.v1\.ReadRequest/],
    ['a template variable on a list', resource('uri: "odd://{tags}"'), /the URI variable \{tags\} is not a scalar field/],
    ['watch_with naming a unary RPC', resource('uri: "odd://x" watch_with: "Suggest"'), /watch_with names Suggest, which is not a server-streaming RPC taking odd\.v1\.ReadRequest/],
    ['list_with naming no RPC', resource('uri: "odd://{name}" list_with: "Nowhere"'), /list_with names Nowhere, which is not a unary RPC returning homelab\.mcp\.v1\.ResourceList/],
    ['complete_with naming a stream', resource('uri: "odd://{wrong}"', '(WrongRequest) returns (homelab.mcp.v1.ResourceContents)'), /odd\.v1\.WrongRequest\.wrong: \(homelab\.mcp\.v1\.field\)\.complete_with names Watch, which is not a unary RPC of odd\.v1\.OddService taking homelab\.mcp\.v1\.CompleteRequest/],
    ['a prompt that renders no PromptMessages', '  // Prompts.\n  rpc Ask(ReadRequest) returns (ReadRequest) {\n    option (homelab.mcp.v1.prompt) = { name: "ask" };\n  }', /odd\.v1\.OddService\.Ask: a prompt is rendered by a unary RPC returning homelab\.mcp\.v1\.PromptMessages/],
  ])('%s', (_name, rpcs, message) => {
    const registry = compile({ 'odd.proto': contract(rpcs) });
    expect(() => buildSurfaceSpec(registry, 'odd.v1.OddService')).toThrow(ContractError);
    expect(() => buildSurfaceSpec(registry, 'odd.v1.OddService')).toThrow(message);
  });

  it('accepts the same RPCs declared as they should be', () => {
    const registry = compile({ 'odd.proto': contract(resource('uri: "odd://{name}" watch_with: "Watch"')) });
    const { resources } = buildSurfaceSpec(registry, 'odd.v1.OddService');
    expect(resources).toEqual([expect.objectContaining({ uri: 'odd://{name}', template: true, variables: ['name'], name: 'read' })]);
  });
});
