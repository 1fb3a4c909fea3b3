import { esm } from '../../jest.config.js';

/**
 * The cluster suite (`npm run test:cluster`): two built replicas behind HAProxy, restarted
 * under load. Slow, so `npm test` leaves it out. The suite builds the server itself.
 */
export default {
  ...esm,
  rootDir: '../..',
  testMatch: ['<rootDir>/test/cluster/**/*.cluster-spec.ts'],
  testTimeout: 150_000,
};
