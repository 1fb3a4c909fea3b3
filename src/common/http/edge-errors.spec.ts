import { describe, expect, it } from '@jest/globals';
import { nestsDeeperThan } from './edge-errors.js';

describe('nestsDeeperThan', () => {
  it('counts nested objects and arrays, not scalars', () => {
    expect(nestsDeeperThan('text', 0)).toBe(false);
    expect(nestsDeeperThan({ a: 1 }, 1)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 1)).toBe(true);
    expect(nestsDeeperThan([[{}]], 3)).toBe(false);
    expect(nestsDeeperThan([[{}]], 2)).toBe(true);
  });

  it('walks a value far deeper than the stack without overflowing', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown;
    expect(nestsDeeperThan(deep, 32)).toBe(true);
  });
});
