/**
 * The cluster suite (`npm run test:cluster`): two built replicas behind HAProxy, restarted
 * under load. Slow, so `npm test` leaves it out. The suite builds the server itself.
 */
export default {
  rootDir: '../..',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/cluster/**/*.cluster-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 150_000,
};
