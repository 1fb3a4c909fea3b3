import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import type { ConfigService } from '@nestjs/config';
import { MemoryCacheStore, type CacheStore, type Snapshot } from '../common/cache/cache-store.js';
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
const PRIVATE: DocumentDto = { ...DOC, visibility: 'private', version: 2 };

/** The in-process store; `down` makes every call fail. Tests spy on its methods. */
class FlakyStore implements CacheStore {
  readonly inner = new MemoryCacheStore();
  down = false;

  read<T>(key: string): Promise<Snapshot<T>> {
    return this.check() ?? this.inner.read<T>(key);
  }

  fill(key: string, token: string, value: unknown, ttlMs: number): Promise<boolean> {
    return this.check() ?? this.inner.fill(key, token, value, ttlMs);
  }

  beginWrite(keys: string[], writer: string): Promise<void> {
    return this.check() ?? this.inner.beginWrite(keys, writer);
  }

  endWrite(keys: string[], writer: string): Promise<void> {
    return this.check() ?? this.inner.endWrite(keys, writer);
  }

  private check(): Promise<never> | undefined {
    return this.down ? Promise.reject(new Error('connection refused')) : undefined;
  }
}

/** A store that replicas share, its calls spied on. */
function sharedStore() {
  const store = new FlakyStore();
  return Object.assign(store, {
    spies: {
      read: jest.spyOn(store, 'read'),
      fill: jest.spyOn(store, 'fill'),
      beginWrite: jest.spyOn(store, 'beginWrite'),
      endWrite: jest.spyOn(store, 'endWrite'),
    },
  });
}

/** A replica's cache over `store`, which replicas share. */
function cacheWith(ttlSeconds = 600, store = sharedStore()) {
  const config = { getOrThrow: () => ({ ttlSeconds }) } as unknown as ConfigService<
    AppConfig,
    true
  >;
  const metrics = { countCacheRead: jest.fn() };
  const cache = new DocumentCache(store, config, metrics as unknown as MetricsService);
  return { cache, store, counted: metrics.countCacheRead };
}

/** A load that waits until `release` is called; `started` resolves once it has begun. */
function gatedLoad(record: DocumentDto | null) {
  let release!: () => void;
  let begun!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const started = new Promise<void>((resolve) => (begun = resolve));
  const load = jest.fn(async () => {
    begun();
    await gate;
    return record;
  });
  return { load, started, release };
}

afterEach(() => {
  jest.restoreAllMocks();
});

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
    const { load, release } = gatedLoad(DOC);
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
    expect(store.spies.fill).toHaveBeenCalledWith('document:missing', '', { missing: true }, 5_000);
  });

  it('reads around a failing store and says BYPASS', async () => {
    const { cache, store, counted } = cacheWith();
    store.down = true;
    const load = jest.fn(async () => DOC);
    await expect(cache.read(DOC.id, load)).resolves.toEqual({ record: DOC, outcome: 'BYPASS' });
    expect(counted.mock.calls).toEqual([['BYPASS']]);
  });

  it('lets a write go on while the store is down, and ends it before serving again', async () => {
    const { cache, store } = cacheWith();
    await cache.read(DOC.id, async () => DOC);
    store.down = true;
    const write = await cache.beginWrite([DOC.id]);
    await write.end();
    await expect(cache.read(DOC.id, async () => PRIVATE)).resolves.toMatchObject({
      outcome: 'BYPASS',
    });
    store.down = false;

    await expect(cache.read(DOC.id, async () => PRIVATE)).resolves.toEqual({
      record: PRIVATE,
      outcome: 'MISS',
    });
    // Once in the write, once in the read that bypassed the store, then with success.
    expect(store.spies.endWrite).toHaveBeenCalledTimes(3);
  });

  it('does not cache the result of a read that a write overtook', async () => {
    const { cache, store } = cacheWith();
    const { load, started, release } = gatedLoad(DOC);
    const stale = cache.read(DOC.id, load);
    await started;
    const write = await cache.beginWrite([DOC.id]);
    await write.end();
    release();
    await stale;
    expect(store.spies.fill).not.toHaveBeenCalled();
    await expect(cache.read(DOC.id, async () => PRIVATE)).resolves.toEqual({
      record: PRIVATE,
      outcome: 'MISS',
    });
  });

  it('does not cache a record another replica loaded before a write on this one', async () => {
    const shared = sharedStore();
    const writer = cacheWith(600, shared).cache;
    const reader = cacheWith(600, shared).cache;
    const { load, started, release } = gatedLoad(DOC);
    const stale = reader.read(DOC.id, load);
    await started;
    const write = await writer.beginWrite([DOC.id]);
    await write.end();
    release();
    await expect(stale).resolves.toEqual({ record: DOC, outcome: 'MISS' });
    expect(await shared.spies.fill.mock.results[0]?.value).toBe(false);

    for (const replica of [reader, writer]) {
      await expect(replica.read(DOC.id, async () => PRIVATE)).resolves.toMatchObject({
        record: PRIVATE,
      });
    }
    await expect(reader.read(DOC.id, async () => DOC)).resolves.toEqual({
      record: PRIVATE,
      outcome: 'HIT',
    });
  });

  it('fills nothing while a write is under way, on any replica', async () => {
    const shared = sharedStore();
    const writer = cacheWith(600, shared).cache;
    const reader = cacheWith(600, shared).cache;
    const write = await writer.beginWrite([DOC.id]);
    for (let i = 0; i < 3; i++) {
      await expect(reader.read(DOC.id, async () => DOC)).resolves.toEqual({
        record: DOC,
        outcome: 'MISS',
      });
    }
    await expect(shared.inner.read(`document:${DOC.id}`)).resolves.toEqual({ fillToken: null });
    await write.end();
    await reader.read(DOC.id, async () => PRIVATE);
    await expect(reader.read(DOC.id, async () => DOC)).resolves.toEqual({
      record: PRIVATE,
      outcome: 'HIT',
    });
  });

  it('keeps fills out until the last of two overlapping writes has ended', async () => {
    const shared = sharedStore();
    const [one, two] = [cacheWith(600, shared).cache, cacheWith(600, shared).cache];
    const first = await one.beginWrite([DOC.id]);
    const second = await two.beginWrite([DOC.id]);
    await first.end();
    await one.read(DOC.id, async () => DOC);
    await expect(one.read(DOC.id, async () => DOC)).resolves.toMatchObject({ outcome: 'MISS' });
    await second.end();
    await one.read(DOC.id, async () => PRIVATE);
    await expect(two.read(DOC.id, async () => DOC)).resolves.toEqual({
      record: PRIVATE,
      outcome: 'HIT',
    });
  });

  it('does not share with later reads a load that began while a write was under way', async () => {
    const { cache } = cacheWith();
    const write = await cache.beginWrite([DOC.id]);
    const { load, started, release } = gatedLoad(DOC);
    const during = cache.read(DOC.id, load);
    await started;
    await write.end();
    const after = cache.read(DOC.id, async () => PRIVATE);
    release();
    await expect(during).resolves.toMatchObject({ record: DOC });
    await expect(after).resolves.toMatchObject({ record: PRIVATE });
  });

  it('does not fill from a read that took longer than the fill window', async () => {
    const { cache, store } = cacheWith();
    const now = performance.now();
    const clock = jest.spyOn(performance, 'now').mockReturnValue(now);
    const read = cache.read(DOC.id, async () => {
      clock.mockReturnValue(now + 2_001);
      return DOC;
    });
    await expect(read).resolves.toEqual({ record: DOC, outcome: 'MISS' });
    expect(store.spies.fill).not.toHaveBeenCalled();
  });

  it('bypasses the store entirely when the TTL is 0', async () => {
    const { cache, store, counted } = cacheWith(0);
    await expect(cache.read(DOC.id, async () => DOC)).resolves.toEqual({
      record: DOC,
      outcome: 'BYPASS',
    });
    const write = await cache.beginWrite([DOC.id]);
    await write.end();
    expect(store.spies.read).not.toHaveBeenCalled();
    expect(store.spies.beginWrite).not.toHaveBeenCalled();
    expect(counted.mock.calls).toEqual([['BYPASS']]);
  });
});
