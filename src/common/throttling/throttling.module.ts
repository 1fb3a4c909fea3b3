import { Global, Module } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { MemoryRateLimitStore, RateLimitStore, RedisRateLimitStore } from './rate-limit.store.js';

@Global()
@Module({
  providers: [
    {
      provide: RateLimitStore,
      inject: [RedisService],
      useFactory: ({ client }: RedisService): RateLimitStore =>
        client ? new RedisRateLimitStore(client) : new MemoryRateLimitStore(),
    },
  ],
  exports: [RateLimitStore],
})
export class ThrottlingModule {}
