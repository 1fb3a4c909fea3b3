import { randomUUID } from 'node:crypto';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import { CacheableMemory } from 'cacheable';
import type { Redis } from 'ioredis';

/** Entries the in-process store keeps at most; the least recently used go first. */
const MEMORY_ENTRIES = 10_000;

/**
 * How long a key remembers the last write to it (its fence), after that write began or ended.
 * A fill must find the key as its read saw it, so a fill based on a read from before a write
 * fails for this long; callers give up on fills older than a fraction of it (see
 * DocumentCache). A writer that dies before it ends its write blocks fills (never reads)
 * until then.
 */
export const FENCE_TTL_MS = 10_000;

/** What a read found under a key. */
export interface Snapshot<T> {
  /** The cached value, if there is one. */
  value?: T;
  /**
   * What `fill` must find under the key to store a value: the key's state as read. `null`
   * when no fill may happen (a value is cached, or a write is under way).
   */
  fillToken: string | null;
}

/**
 * What the document cache needs of a key-value store: reads, and fills that cannot overwrite
 * a write made since the read (compare-and-set against the key's state as read; writes fence
 * the key before and after they commit). Values are JSON; calls reject when the store cannot
 * be reached, so that the caller can go on without it.
 */
export interface CacheStore {
  /** The value under `key` and the token a fill needs; one round trip. */
  read<T>(key: string): Promise<Snapshot<T>>;
  /** Stores `value` if `key` is still as `read` saw it (`fillToken`); true when stored. */
  fill(key: string, fillToken: string, value: unknown, ttlMs: number): Promise<boolean>;
  /** Drops the values of `keys` and fences them: no fill succeeds until `endWrite`. */
  beginWrite(keys: string[], writer: string): Promise<void>;
  /** Ends `writer`'s write; fills based on reads from before this call keep failing. */
  endWrite(keys: string[], writer: string): Promise<void>;
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

/** How a fence starts in Redis; entries (`{"value":{"record"…` or `…{"missing"…`) never do. */
const FENCE_START = '{"value":{"fence":';

/**
 * Replaces each key by a fence naming a new token and the writers under way: ARGV[1] the
 * writer, ARGV[2] `begin` (add it) or `end` (remove it), ARGV[3] the fence TTL, ARGV[4] the
 * token. Atomic, so writers on several replicas never lose each other.
 */
const FENCE_SCRIPT = `
local start = '${FENCE_START}'
for _, key in ipairs(KEYS) do
  local writers = {}
  local current = redis.call('GET', key)
  if current and string.sub(current, 1, #start) == start then
    local ok, state = pcall(cjson.decode, current)
    if ok and type(state.value) == 'table' and type(state.value.writers) == 'table' then
      writers = state.value.writers
    end
  end
  if ARGV[2] == 'begin' then writers[ARGV[1]] = 1 else writers[ARGV[1]] = nil end
  local fence = start .. '"' .. ARGV[4] .. '","writers":' .. cjson.encode(writers) .. '}}'
  redis.call('SET', key, fence, 'PX', ARGV[3])
end
return #KEYS
`;

/** Sets KEYS[1] to ARGV[2] for ARGV[3] ms if it holds exactly ARGV[1] ('' for nothing). */
const FILL_SCRIPT = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

interface FencingRedis extends Redis {
  cacheFence(...args: (string | number)[]): Promise<number>;
  cacheFill(key: string, seen: string, text: string, ttlMs: number): Promise<number>;
}

/**
 * The cache in Redis, over the service's shared connection: a read is one GET, pipelined with
 * whatever else the process sends at the same moment (rate-limit hits of other requests);
 * fills and fences are Lua scripts (EVALSHA), each atomic. Entries keep Keyv's layout
 * (`cache::<key>` holding `{"value":…,"expires":…}`), which `@keyv/redis` reads too; a fence
 * takes the entry's place under the same key, so a document has at most one key.
 */
export class RedisCacheStore implements CacheStore {
  private readonly redis: FencingRedis;

  constructor(redis: Redis) {
    if (!('cacheFill' in redis)) {
      redis.defineCommand('cacheFence', { lua: FENCE_SCRIPT });
      redis.defineCommand('cacheFill', { lua: FILL_SCRIPT, numberOfKeys: 1 });
    }
    this.redis = redis as FencingRedis;
  }

  async read<T>(key: string): Promise<Snapshot<T>> {
    const text = await this.redis.get(PREFIX + key);
    if (text === null) return { fillToken: '' };
    if (text.startsWith(FENCE_START)) {
      const { value } = JSON.parse(text) as { value: { writers: Record<string, unknown> } };
      return { fillToken: Object.keys(value.writers).length === 0 ? text : null };
    }
    const { value, expires } = deserializeEntry<{ value: T; expires?: number | null }>(text);
    if (typeof expires === 'number' && expires <= Date.now()) return { fillToken: text };
    return { value, fillToken: null };
  }

  async fill(key: string, fillToken: string, value: unknown, ttlMs: number): Promise<boolean> {
    const text = defaultSerialize({ value, expires: Date.now() + ttlMs });
    return (await this.redis.cacheFill(PREFIX + key, fillToken, text, ttlMs)) === 1;
  }

  beginWrite(keys: string[], writer: string): Promise<void> {
    return this.fence(keys, writer, 'begin');
  }

  endWrite(keys: string[], writer: string): Promise<void> {
    return this.fence(keys, writer, 'end');
  }

  private async fence(keys: string[], writer: string, phase: 'begin' | 'end'): Promise<void> {
    if (keys.length === 0) return;
    const prefixed = keys.map((key) => PREFIX + key);
    await this.redis.cacheFence(
      keys.length,
      ...prefixed,
      writer,
      phase,
      FENCE_TTL_MS,
      randomUUID(),
    );
  }
}

interface Fence {
  token: string;
  writers: Set<string>;
  expiresAt: number;
}

/**
 * Without Redis, for one replica: a bounded LRU of values in process memory, and beside it
 * the fences of recent writes, which the LRU must not evict. Each call runs to completion
 * without yielding, so checks and sets are atomic here as the scripts are in Redis.
 */
export class MemoryCacheStore implements CacheStore {
  private readonly values = new CacheableMemory({ lruSize: MEMORY_ENTRIES });
  /** In order of last change, so that expired fences are found at the front. */
  private readonly fences = new Map<string, Fence>();

  read<T>(key: string): Promise<Snapshot<T>> {
    const fence = this.fenceOf(key);
    if (fence) return Promise.resolve({ fillToken: fence.writers.size === 0 ? fence.token : null });
    const value = this.values.get<T>(key);
    return Promise.resolve(value === undefined ? { fillToken: '' } : { value, fillToken: null });
  }

  fill(key: string, fillToken: string, value: unknown, ttlMs: number): Promise<boolean> {
    const fence = this.fenceOf(key);
    const current = fence ? fence.token : this.values.has(key) ? null : '';
    if (current !== fillToken || (fence && fence.writers.size > 0)) return Promise.resolve(false);
    this.fences.delete(key);
    this.values.set(key, value, ttlMs);
    return Promise.resolve(true);
  }

  beginWrite(keys: string[], writer: string): Promise<void> {
    for (const key of keys) this.fence(key, (writers) => writers.add(writer));
    return Promise.resolve();
  }

  endWrite(keys: string[], writer: string): Promise<void> {
    for (const key of keys) this.fence(key, (writers) => writers.delete(writer));
    return Promise.resolve();
  }

  private fence(key: string, change: (writers: Set<string>) => void): void {
    this.dropExpiredFences();
    const writers = this.fenceOf(key)?.writers ?? new Set<string>();
    change(writers);
    this.values.delete(key);
    this.fences.delete(key);
    this.fences.set(key, { token: randomUUID(), writers, expiresAt: Date.now() + FENCE_TTL_MS });
  }

  private fenceOf(key: string): Fence | undefined {
    const fence = this.fences.get(key);
    return fence && fence.expiresAt > Date.now() ? fence : undefined;
  }

  private dropExpiredFences(): void {
    const now = Date.now();
    for (const [key, fence] of this.fences) {
      if (fence.expiresAt > now) return;
      this.fences.delete(key);
    }
  }
}

/** Without Redis: the in-process store, for one replica. */
export function memoryCacheStore(): CacheStore {
  return new MemoryCacheStore();
}
