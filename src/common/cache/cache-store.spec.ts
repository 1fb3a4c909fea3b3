import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { TestRedis } from '../../../test/support/redis-server.js';
import {
  deserializeEntry,
  FENCE_TTL_MS,
  MemoryCacheStore,
  RedisCacheStore,
  type CacheStore,
} from './cache-store.js';

describe('deserializeEntry', () => {
  it('reads every entry exactly as Keyv’s own deserializer does', () => {
    // Strings that start with ':' (which Keyv escapes) and keys that end with one are common.
    const text = fc.oneof(
      fc.string(),
      fc.string().map((value) => `:${value}`),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(text, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const stored = defaultSerialize({ value, expires: 1 });
        expect(deserializeEntry(stored)).toEqual(defaultDeserialize(stored));
      }),
      { numRuns: 2_000 },
    );
  });

  it('undoes Keyv’s escaping of strings that start with a colon', () => {
    const stored = defaultSerialize({ value: { title: ':colon', tags: [':a', 'b:'] } });
    expect(deserializeEntry(stored)).toEqual({ value: { title: ':colon', tags: [':a', 'b:'] } });
  });
});

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available())
  process.stdout.write('SKIP RedisCacheStore: redis-server not on PATH\n');

/** The fill protocol, which both stores keep alike. */
function fillProtocol(
  name: string,
  open: () => Promise<{ store: CacheStore; close(): Promise<void> }>,
) {
  describe(`${name}: fills against writes`, () => {
    let store: CacheStore;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ store, close } = await open());
    });

    afterAll(() => close());

    const key = () => `document:${randomUUID()}`;

    it('fills an absent key once, and serves the value', async () => {
      const k = key();
      const { fillToken } = await store.read(k);
      expect(fillToken).toBe('');
      await expect(store.fill(k, fillToken!, { a: 1 }, 60_000)).resolves.toBe(true);
      await expect(store.read(k)).resolves.toEqual({ value: { a: 1 }, fillToken: null });
      await expect(store.fill(k, fillToken!, { a: 2 }, 60_000)).resolves.toBe(false);
    });

    it('refuses a fill from a read made before a write, and any fill during one', async () => {
      const k = key();
      const before = (await store.read(k)).fillToken!;
      await store.beginWrite([k], 'w1');
      await expect(store.read(k)).resolves.toEqual({ fillToken: null });
      await expect(store.fill(k, before, { stale: true }, 60_000)).resolves.toBe(false);
      await store.endWrite([k], 'w1');
      await expect(store.fill(k, before, { stale: true }, 60_000)).resolves.toBe(false);

      const after = await store.read(k);
      expect(after.value).toBeUndefined();
      await expect(store.fill(k, after.fillToken!, { fresh: true }, 60_000)).resolves.toBe(true);
      await expect(store.read(k)).resolves.toMatchObject({ value: { fresh: true } });
    });

    it('drops a cached value when a write begins', async () => {
      const k = key();
      await store.fill(k, '', { old: true }, 60_000);
      await store.beginWrite([k], 'w');
      await expect(store.read(k)).resolves.toEqual({ fillToken: null });
    });

    it('keeps refusing fills until every overlapping writer has ended', async () => {
      const k = key();
      await store.beginWrite([k], 'w1');
      await store.beginWrite([k], 'w2');
      await store.endWrite([k], 'w1');
      await expect(store.read(k)).resolves.toEqual({ fillToken: null });
      await store.endWrite([k], 'w2');
      const { fillToken } = await store.read(k);
      await expect(store.fill(k, fillToken!, { v: 1 }, 60_000)).resolves.toBe(true);
    });

    it('fences many keys in one call', async () => {
      const keys = [key(), key(), key()];
      await store.beginWrite(keys, 'w');
      for (const k of keys) await expect(store.read(k)).resolves.toEqual({ fillToken: null });
      await store.endWrite(keys, 'w');
      for (const k of keys) expect((await store.read(k)).fillToken).toEqual(expect.any(String));
    });
  });
}

fillProtocol('MemoryCacheStore', async () => ({
  store: new MemoryCacheStore(),
  close: async () => undefined,
}));

withRedis('RedisCacheStore', () => {
  fillProtocol('RedisCacheStore', async () => {
    const server = await TestRedis.start();
    const client = new Redis(server.url);
    return {
      store: new RedisCacheStore(client),
      close: async () => {
        client.disconnect();
        await server.kill();
      },
    };
  });

  it('keeps one key per document, in Keyv’s layout, with a TTL on fences', async () => {
    const server = await TestRedis.start();
    const client = new Redis(server.url);
    try {
      const store = new RedisCacheStore(client);
      await store.fill('document:x', '', { record: { id: 'x' } }, 60_000);
      const entry = JSON.parse((await client.get('cache::document:x'))!);
      expect(entry).toEqual({ value: { record: { id: 'x' } }, expires: expect.any(Number) });
      await store.beginWrite(['document:x'], 'w');
      await store.endWrite(['document:x'], 'w');
      expect(await client.keys('*')).toEqual(['cache::document:x']);
      expect(await client.pttl('cache::document:x')).toBeGreaterThan(FENCE_TTL_MS - 1_000);
    } finally {
      client.disconnect();
      await server.kill();
    }
  });
});
