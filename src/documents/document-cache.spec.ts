import { describe, expect, it, jest } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import type { CacheStore } from '../common/cache/cache-store.js';
import type { AppConfig } from '../common/config/app-config.js';
import type { MetricsService } from '../common/metrics/metrics.service.js';
import { DocumentCache } from './document-cache.js';
import type { DocumentDto } from './dto/document.dto.js';

const DOC: DocumentDto = {
  id: '00000000-0000-4000-8000-000000000001',
  ownerId: 1,
  title: 't',
  content: 'c',
  contentType: 'text/plain',
  visibility: 'public',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

/** A Map behind the store methods the cache uses; `down` makes every call fail. */
class FakeStore {
  readonly entries = new Map<string, unknown>();
  readonly ttls = new Map<string, number | undefined>();
  down = false;

  get = jest.fn(async (key: string) => {
    this.check();
    return this.entries.get(key);
  });

  set = jest.fn(async (key: string, value: unknown, ttl?: number) => {
    this.check();
    this.entries.set(key, value);
    this.ttls.set(key, ttl);
    return true;
  });

  deleteMany = jest.fn(async (keys: string[]) => {
    this.check();
    for (const key of keys) this.entries.delete(key);
    return true;
  });

  private check(): void {
    if (this.down) throw new Error('connection refused');
  }
}

function cacheWith(ttlSeconds = 600) {
  const store = new FakeStore();
  const config = { getOrThrow: () => ({ ttlSeconds }) } as unknown as ConfigService<
    AppConfig,
    true
  >;
  const metrics = { countCacheRead: jest.fn() };
  const cache = new DocumentCache(
    store as unknown as CacheStore,
    config,
    metrics as unknown as MetricsService,
  );
  return { cache, store, counted: metrics.countCacheRead };
}

describe('DocumentCache', () => {
  it('loads on a miss, then serves the stored record', async () => {
    const { cache, counted } = cacheWith();
    const load = jest.fn(async () => DOC);
    await expect(cache.read(DOC.id, load)).resolves.toEqual({ record: DOC, outcome: 'MISS' });
    await expect(cache.read(DOC.id, load)).resolves.toEqual({ record: DOC, outcome: 'HIT' });
    expect(load).toHaveBeenCalledTimes(1);
    expect(counted.mock.calls).toEqual([['MISS'], ['HIT']]);
  });

  it('shares one load between concurrent misses of one id', async () => {
    const { cache } = cacheWith();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const load = jest.fn(async () => {
      await gate;
      return DOC;
    });
    const reads = Array.from({ length: 50 }, () => cache.read(DOC.id, load));
    release();
    const results = await Promise.all(reads);
    expect(load).toHaveBeenCalledTimes(1);
    expect(results.every(({ record }) => record === DOC)).toBe(true);
  });

  it('remembers a missing id for a few seconds only', async () => {
    const { cache, store } = cacheWith();
    const load = jest.fn(async () => null);
    await expect(cache.read('missing', load)).resolves.toEqual({ record: null, outcome: 'MISS' });
    await expect(cache.read('missing', load)).resolves.toEqual({ record: null, outcome: 'HIT' });
    expect(load).toHaveBeenCalledTimes(1);
    expect(store.ttls.get('document:missing')).toBeLessThanOrEqual(5_000);
  });

  it('reads around a failing store and says BYPASS', async () => {
    const { cache, store, counted } = cacheWith();
    store.down = true;
    const load = jest.fn(async () => DOC);
    await expect(cache.read(DOC.id, load)).resolves.toEqual({ record: DOC, outcome: 'BYPASS' });
    expect(counted.mock.calls).toEqual([['BYPASS']]);
  });

  it('retries an invalidation that failed before it serves from the store again', async () => {
    const { cache, store } = cacheWith();
    await cache.read(DOC.id, async () => DOC);
    store.down = true;
    await cache.forget([DOC.id]);
    store.down = false;

    const fresh = { ...DOC, version: 2 };
    await expect(cache.read(DOC.id, async () => fresh)).resolves.toEqual({
      record: fresh,
      outcome: 'MISS',
    });
  });

  it('does not cache the result of a read that a write overtook', async () => {
    const { cache, store } = cacheWith();
    let release!: () => void;
    let loading!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started = new Promise<void>((resolve) => (loading = resolve));
    const stale = cache.read(DOC.id, async () => {
      loading();
      await gate;
      return DOC;
    });
    await started;
    await cache.forget([DOC.id]);
    release();
    await stale;
    expect(store.entries.has(`document:${DOC.id}`)).toBe(false);
  });

  it('bypasses the store entirely when the TTL is 0', async () => {
    const { cache, store, counted } = cacheWith(0);
    await expect(cache.read(DOC.id, async () => DOC)).resolves.toEqual({
      record: DOC,
      outcome: 'BYPASS',
    });
    expect(store.get).not.toHaveBeenCalled();
    expect(counted.mock.calls).toEqual([['BYPASS']]);
  });
});
