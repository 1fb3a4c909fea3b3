import { afterAll, afterEach, expect } from '@jest/globals';
import { contract } from './contract.js';

// Every response a test caused must keep the committed contract (see contract.ts). Responses
// of server processes arrive over a pipe and may land after their test: afterAll takes those.
afterEach(() => {
  expect(contract.drain()).toEqual([]);
});

afterAll(() => {
  expect(contract.drain()).toEqual([]);
});
