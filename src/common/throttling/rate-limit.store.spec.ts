import { describe, expect, it, jest } from '@jest/globals';
import { MemoryRateLimitStore } from './rate-limit.store.js';

describe('MemoryRateLimitStore', () => {
  it('counts hits per key within a window and starts over after it', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const store = new MemoryRateLimitStore();
      await expect(store.hit('a', 1_000)).resolves.toEqual({ hits: 1, resetMs: 1_000 });
      jest.advanceTimersByTime(400);
      await expect(store.hit('a', 1_000)).resolves.toEqual({ hits: 2, resetMs: 600 });
      await expect(store.hit('b', 1_000)).resolves.toEqual({ hits: 1, resetMs: 1_000 });
      jest.advanceTimersByTime(600);
      await expect(store.hit('a', 1_000)).resolves.toEqual({ hits: 1, resetMs: 1_000 });
    } finally {
      jest.useRealTimers();
    }
  });
});
