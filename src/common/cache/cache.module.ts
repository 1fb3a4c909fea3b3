import { Global, Module } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { memoryCacheStore, RedisCacheStore, type CacheStore } from './cache-store.js';

/** Injection token of the store under the document cache. */
export const CACHE_STORE = Symbol('CACHE_STORE');

@Global()
@Module({
  providers: [
    {
      provide: CACHE_STORE,
      inject: [RedisService],
      // The cache's own connection when CACHE_REDIS_URL is set, else the shared one.
      useFactory: ({ cacheClient }: RedisService): CacheStore =>
        cacheClient ? new RedisCacheStore(cacheClient) : memoryCacheStore(),
    },
  ],
  exports: [CACHE_STORE],
})
export class CacheStoreModule {}
