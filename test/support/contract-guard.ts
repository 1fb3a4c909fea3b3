import { afterEach, expect } from '@jest/globals';
import { contract } from './contract.js';

// Every response a test caused must keep the committed contract (see contract.ts).
afterEach(() => {
  expect(contract.drain()).toEqual([]);
});
