import { describe, expect, it } from '@jest/globals';
import { exceededLimit } from './edge-errors.js';

const OPEN = { depth: Infinity, keys: Infinity, values: Infinity };

describe('exceededLimit', () => {
  it('counts nested objects and arrays, not scalars', () => {
    expect(exceededLimit('text', { ...OPEN, depth: 0 })).toBeUndefined();
    expect(exceededLimit({ a: 1 }, { ...OPEN, depth: 1 })).toBeUndefined();
    expect(exceededLimit({ a: [1] }, { ...OPEN, depth: 1 })).toBe('depth');
    expect(exceededLimit([[{}]], { ...OPEN, depth: 3 })).toBeUndefined();
    expect(exceededLimit([[{}]], { ...OPEN, depth: 2 })).toBe('depth');
  });

  it('walks a value far deeper than the stack without overflowing', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown;
    expect(exceededLimit(deep, { ...OPEN, depth: 32 })).toBe('depth');
  });

  it('counts the keys of each object, not of arrays', () => {
    const wide = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, i]));
    expect(exceededLimit(wide, { ...OPEN, keys: 5 })).toBeUndefined();
    expect(exceededLimit({ nested: wide }, { ...OPEN, keys: 4 })).toBe('keys');
    expect(exceededLimit([1, 2, 3, 4, 5, 6], { ...OPEN, keys: 4 })).toBeUndefined();
  });

  it('counts every value, the root and array elements included', () => {
    expect(exceededLimit({ a: [1, 2], b: 'x' }, { ...OPEN, values: 5 })).toBeUndefined();
    expect(exceededLimit({ a: [1, 2], b: 'x' }, { ...OPEN, values: 4 })).toBe('values');
    expect(exceededLimit(new Array(1_000_000).fill(0), { ...OPEN, values: 1024 })).toBe('values');
  });
});
