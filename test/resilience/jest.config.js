import { esm } from '../../jest.config.js';

/**
 * The fault suite (`npm run test:resilience`): the built server against processes each case
 * owns (its own redis-server, its own embedded PostgreSQL), under load, while they fail.
 * Slow, so `npm test` leaves it out; the script builds first.
 */
export default {
  ...esm,
  rootDir: '../..',
  testMatch: ['<rootDir>/test/resilience/**/*.resilience-spec.ts'],
  testTimeout: 180_000,
};
