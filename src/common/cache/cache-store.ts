import { Logger } from '@nestjs/common';
import { createKeyv } from '@keyv/redis';
import { defaultDeserialize } from '@keyv/serialize';
import { CacheableMemory } from 'cacheable';
import Keyv from 'keyv';

/** Entries the in-process store keeps at most; the least recently used go first. */
const MEMORY_ENTRIES = 10_000;

/**
 * Keyv's own deserializer, without its cost where it changes nothing. Keyv marks a string value
 * that starts with ':' by one more ':' (and a Buffer by ':base64:'), and undoes that with a
 * reviver called for every value of the entry. Such a value shows in the JSON text as a quote
 * right after '[', '{', ',' or ':' and followed by ':' (quotes inside strings are escaped);
 * text without that sequence parses to the same thing with plain `JSON.parse`. Entries stay
 * in Keyv's format, so replicas of either kind read each other's.
 */
export function deserializeEntry<T>(text: string): T {
  return (/[[{,:]":/.test(text) ? defaultDeserialize(text) : JSON.parse(text)) as T;
}

/**
 * The key-value store under the document cache: Redis through `@keyv/redis` when a URL is
 * given, else a bounded in-process LRU. Errors surface to the caller (so it can answer from
 * PostgreSQL and say `BYPASS`), and nothing waits for Redis while it is unreachable.
 */
export function createCacheStore(redisUrl: string | undefined): Keyv {
  const logger = new Logger('CacheStore');
  const store = redisUrl
    ? createKeyv(
        {
          url: redisUrl,
          disableOfflineQueue: true,
          socket: {
            connectTimeout: 2_000,
            reconnectStrategy: (retries: number) => Math.min(100 * (retries + 1), 2_000),
          },
        },
        { namespace: 'cache', throwOnConnectError: false, throwOnErrors: true },
      )
    : new Keyv({ store: new CacheableMemory({ lruSize: MEMORY_ENTRIES }) });
  if (redisUrl) store.deserialize = deserializeEntry;
  let healthy = true;
  store.on('error', (error: Error) => {
    if (healthy) logger.warn(`Cache store unreachable: ${error.message}`);
    healthy = false;
  });
  return store;
}
