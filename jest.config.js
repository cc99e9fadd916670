// ESM + TypeScript: ts-jest transpiles each file on its own (isolatedModules);
// `npm run typecheck` does the type checking once for the whole tree.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.base.json', diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/*/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Upstream fixtures include a jest snapshot of Dozzle's own UI tests: data, not ours.
  modulePathIgnorePatterns: ['<rootDir>/homelab-sim/fixtures/'],
  coverageProvider: 'v8',
  collectCoverageFrom: ['*/src/**/*.ts', '!**/node_modules/**'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
