import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
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
  // Source code logs through an injected pino logger, never the console.
  { files: ['*/src/**/*.ts'], rules: { 'no-console': 'error' } },
  // Boundaries (DESIGN.md): the gateway only sees proto/gen; shards never see the gateway
  // or each other; shard-kit knows no homelab service.
  {
    files: ['gateway/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: restrict([...shards, 'shard-kit', 'homelab-sim'], 'the gateway only sees proto/gen (and the shared pki)') }] },
  },
  ...shards.map((s) => ({
    files: [`${s}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'homelab-sim', ...shards.filter((o) => o !== s)], 'a shard never imports the gateway, another shard or the stand-ins') }],
    },
  })),
  // Plan binding is shared by both ends of plan -> apply: it sees neither, nor any homelab service.
  {
    files: ['plan-binding/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'shard-kit', 'homelab-sim', ...shards], 'plan-binding is shared by the gateway and the shards and imports neither') }],
      'no-restricted-syntax': ['error', { selector: 'Literal[value=/traefik|dozzle|authentik/i]', message: 'plan-binding knows no homelab service' }],
    },
  },
  {
    files: ['shard-kit/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: restrict(['gateway', 'homelab-sim', ...shards], 'shard-kit knows no homelab service') }],
      'no-restricted-syntax': ['error', { selector: 'Literal[value=/traefik|dozzle|authentik/i]', message: 'shard-kit knows no homelab service' }],
    },
  },
  {
    files: ['*/src/**/*.ts'],
    ignores: ['*/src/config.ts', '*/src/**/config.ts', '*/src/main.ts', '*/src/cli/**'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read the environment in config.ts only' }] },
  },
  // Protobuf is encoded and decoded by generated code only (proto/gen is ignored above).
  { plugins: { protobuf: protobufWire }, rules: { 'protobuf/generated-wire-only': 'error' } },
);
