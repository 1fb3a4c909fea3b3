/**
 * Jest runs in ESM mode (NestJS 12 ships ES modules only): see the `test` script. The slow
 * suites' own configs (test/cluster, test/resilience) use the same settings. CommonJS
 * dependencies that require() ES modules (@nestjs/throttler, @fastify/static) need the
 * require(esm) support Jest has on Node.js 24.9 and later.
 */
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 24 || (major === 24 && minor < 15)) {
  throw new Error(
    `The test suites run on Node.js 24.15 or later (.nvmrc pins the version CI uses); ` +
      `this is ${process.version}. See "Quick start" in README.md.`,
  );
}

export const esm = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/test/support/nest-preload.ts'],
};

export default {
  testTimeout: 60_000,
  projects: [
    { ...esm, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    {
      ...esm,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      setupFiles: [...esm.setupFiles, '<rootDir>/test/support/quiet-logs.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/contract-guard.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
