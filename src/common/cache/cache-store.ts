import { Logger } from '@nestjs/common';
import { createKeyv } from '@keyv/redis';
import { CacheableMemory } from 'cacheable';
import Keyv from 'keyv';

/** Entries the in-process store keeps at most; the least recently used go first. */
const MEMORY_ENTRIES = 10_000;

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
  let healthy = true;
  store.on('error', (error: Error) => {
    if (healthy) logger.warn(`Cache store unreachable: ${error.message}`);
    healthy = false;
  });
  return store;
}
