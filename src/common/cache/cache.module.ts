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
      useFactory: ({ client }: RedisService): CacheStore =>
        client ? new RedisCacheStore(client) : memoryCacheStore(),
    },
  ],
  exports: [CACHE_STORE],
})
export class CacheStoreModule {}
