import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import { CacheableMemory } from 'cacheable';
import type { Redis } from 'ioredis';
import Keyv from 'keyv';

/** Entries the in-process store keeps at most; the least recently used go first. */
const MEMORY_ENTRIES = 10_000;

/**
 * What the document cache needs of a key-value store. Values are JSON; calls reject when the
 * store cannot be reached, so that the caller can go on without it.
 */
export interface CacheStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<unknown>;
  deleteMany(keys: string[]): Promise<unknown>;
}

/**
 * Keyv's deserializer, without its cost where it changes nothing. Keyv marks a string value
 * that starts with ':' by one more ':' (and a Buffer by ':base64:'), and undoes that with a
 * reviver called for every value of the entry. Such a value shows in the JSON text as a quote
 * right after '[', '{', ',' or ':' and followed by ':' (quotes inside strings are escaped);
 * text without that sequence parses to the same thing with plain `JSON.parse`.
 */
export function deserializeEntry<T>(text: string): T {
  return (/[[{,:]":/.test(text) ? defaultDeserialize(text) : JSON.parse(text)) as T;
}

/** The prefix of every cache key in Redis. */
const PREFIX = 'cache::';

/**
 * The cache in Redis, over the service's shared connection: a read is one GET, pipelined with
 * whatever else the process sends at the same moment (rate-limit hits of other requests).
 * Entries keep Keyv's layout (`cache::<key>` holding `{"value":…,"expires":…}`), which
 * `@keyv/redis` reads and writes too.
 */
export class RedisCacheStore implements CacheStore {
  constructor(private readonly redis: Redis) {}

  async get<T>(key: string): Promise<T | undefined> {
    const text = await this.redis.get(PREFIX + key);
    if (text === null) return undefined;
    const { value, expires } = deserializeEntry<{ value: T; expires?: number | null }>(text);
    return typeof expires === 'number' && expires <= Date.now() ? undefined : value;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    const text = defaultSerialize({ value, expires: Date.now() + ttlMs });
    await this.redis.set(PREFIX + key, text, 'PX', ttlMs);
  }

  async deleteMany(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.del(keys.map((key) => PREFIX + key));
  }
}

/** Without Redis: a bounded LRU in process memory, for one replica. */
export function memoryCacheStore(): CacheStore {
  return new Keyv({ store: new CacheableMemory({ lruSize: MEMORY_ENTRIES }) });
}
