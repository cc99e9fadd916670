// ESM + TypeScript: ts-jest transpiles each file on its own (isolatedModules);
// `npm run typecheck` does the type checking once for the whole tree.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.base.json', diagnostics: false }],
  },
  // Workspace packages export their TypeScript sources; map imports the way tsx and tsc resolve them.
  moduleNameMapper: {
    '^@homelab-mcp/proto/(.*)\\.js$': '<rootDir>/proto/gen/$1',
    '^@homelab-mcp/([^/]+)$': '<rootDir>/$1/src/index.ts',
    '^@homelab-mcp/([^/]+)/testing/(.*)\\.js$': '<rootDir>/$1/test/support/$2',
    '^@homelab-mcp/([^/]+)/(.*)\\.js$': '<rootDir>/$1/src/$2',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/*/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Upstream fixtures include a jest snapshot of Dozzle's own UI tests: data, not ours.
  modulePathIgnorePatterns: ['<rootDir>/homelab-sim/fixtures/'],
  coverageProvider: 'v8',
  collectCoverageFrom: ['*/src/**/*.ts', '!**/node_modules/**'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
