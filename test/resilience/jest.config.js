/**
 * The fault suite (`npm run test:resilience`): the built server against processes each case
 * owns (its own redis-server, its own embedded PostgreSQL), under load, while they fail.
 * Slow, so `npm test` leaves it out; the script builds first.
 */
export default {
  rootDir: '../..',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/resilience/**/*.resilience-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 180_000,
};
