import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import declaredDependencies from './tools/eslint/declared-dependencies.js';
import protobufWire from './scripts/eslint-generated-wire-only.js';

const shards = ['shard-traefik', 'shard-dozzle', 'shard-authentik'];
const pkg = (name) => [`@homelab-mcp/${name}`, `@homelab-mcp/${name}/*`, `**/${name}/**`];
const restrict = (names, why) =>
  names.flatMap((n) => pkg(n)).map((group) => ({ group: [group], message: why }));

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'proto/gen/**', 'coverage/**', '.homelab-mcp/**', '.tmp/**', 'homelab-sim/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The gateway's console runs in the browser, as plain scripts (no build step).
  { files: ['gateway/console/**/*.js'], languageOptions: { sourceType: 'script', globals: { ...globals.browser } } },
  // Source code logs through an injected pino logger, never the console.
  { files: ['*/src/**/*.ts'], rules: { 'no-console': 'error' } },
  // Every package imports another only by name and only as declared in its package.json
  // (sources: dependencies; tests and the bench: devDependencies too).
  {
    files: ['**/*.ts'],
    plugins: { homelab: { rules: { 'declared-dependencies': declaredDependencies } } },
    rules: { 'homelab/declared-dependencies': 'error' },
  },
  // Boundaries (DESIGN.md), for sources and tests alike: the gateway only sees proto/gen
  // (its tests start shards with shard-kit and the stand-ins, never a real shard); shards never
  // see the gateway or each other; shard-kit knows no homelab service. Tests that need several
  // of them together live in e2e/.
  {
    files: ['gateway/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: restrict([...shards, 'shard-kit', 'homelab-sim', 'cli'], 'the gateway only sees proto/gen (and the shared pki and component-kit)') }] },
  },
  {
    files: ['gateway/test/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: restrict([...shards, 'cli'], 'gateway tests start their shards with shard-kit; tests with the real shards or the launcher are in e2e/') }] },
  },
  // Composites combine shards through the generated contract clients only; the gateway hosts them.
  {
    files: ['composites/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: restrict([...shards, 'gateway', 'shard-kit', 'homelab-sim', 'cli'], 'composites see only proto/gen: the gateway lends them its channels') }] },
  },
  ...shards.map((s) => ({
    files: [`${s}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'homelab-sim', 'cli', ...shards.filter((o) => o !== s)], 'a shard never imports the gateway, another shard or the stand-ins') }],
    },
  })),
  ...shards.map((s) => ({
    files: [`${s}/test/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'cli', ...shards.filter((o) => o !== s)], 'a shard\'s tests run it on the stand-ins; with the gateway or other shards they are in e2e/') }],
    },
  })),
  // Plan binding is shared by both ends of plan -> apply: it sees neither, nor any homelab service.
  {
    files: ['plan-binding/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'shard-kit', 'homelab-sim', 'cli', ...shards], 'plan-binding is shared by the gateway and the shards and imports neither') }],
      'no-restricted-syntax': ['error', { selector: 'Literal[value=/traefik|dozzle|authentik/i]', message: 'plan-binding knows no homelab service' }],
    },
  },
  {
    files: ['shard-kit/src/**/*.ts', 'shard-kit/test/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'homelab-sim', 'cli', ...shards], 'shard-kit knows no homelab service') }],
    },
  },
  {
    files: ['shard-kit/src/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'Literal[value=/traefik|dozzle|authentik/i]', message: 'shard-kit knows no homelab service' }],
    },
  },
  // What every package builds on knows none of the others.
  {
    files: ['pki/**/*.ts', 'component-kit/**/*.ts', 'hygiene/**/*.ts', 'upstream-types/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'homelab-sim', 'cli', 'shard-kit', ...shards], 'pki, component-kit, hygiene and upstream-types are the base every component builds on') }],
    },
  },
  // The CLI never imports the bench: `homelab-mcp bench` runs the bench's own program.
  {
    files: ['cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: restrict(['bench', 'e2e'], 'the bench and e2e build on the CLI, never the other way') }] },
  },
  {
    files: ['*/src/**/*.ts'],
    ignores: ['*/src/config.ts', '*/src/**/config.ts', '*/src/main.ts', '*/src/cli/**'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read the environment in config.ts only' }] },
  },
  // Protobuf is encoded and decoded by generated code only (proto/gen is ignored above).
  { plugins: { protobuf: protobufWire }, rules: { 'protobuf/generated-wire-only': 'error' } },
);
