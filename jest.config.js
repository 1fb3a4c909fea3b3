/**
 * Jest runs in ESM mode (NestJS 12 ships ES modules only): see the `test` script. The slow
 * suites' own configs (test/cluster, test/resilience) use the same settings.
 */
export const esm = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    // @fastify/static require()s this ES module, which Node allows and Jest's CommonJS loader
    // does not: it gets compiled to CommonJS for the test run.
    '/node_modules/content-disposition/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', isolatedModules: true } },
    ],
    // @nestjs/throttler is CommonJS and require()s NestJS 12's ES modules: see the bridge.
    '/node_modules/@nestjs/throttler/.+\\.js$':
      '<rootDir>/test/support/nest-esm-bridge.transform.cjs',
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/|@nestjs/throttler/)'],
  setupFiles: ['<rootDir>/test/support/nest-esm-bridge.ts'],
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
