import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, ThrottlerStorageService } from '@nestjs/throttler';
import type { AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { ClientThrottlerGuard } from './client-throttler.guard.js';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';
import { ThrottleExemptions } from './throttle-exemptions.js';
import { throttlers } from './throttlers.js';

/**
 * Rate limits on @nestjs/throttler: its counters in Redis over the shared connection when
 * REDIS_URL is set (every replica counts together), else its own in-memory storage. The guard
 * is global and registered before the session guard (this module is imported before the auth
 * module), so that a flood is refused before any session lookup.
 */
@Global()
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [ConfigService, RedisService],
      useFactory: (config: ConfigService<AppConfig, true>, { client }: RedisService) => ({
        throttlers: throttlers(
          config.getOrThrow('rateLimit', { infer: true }),
          config.getOrThrow('auth', { infer: true }).loginRateLimitMax,
        ),
        storage: client ? new RedisThrottlerStorage(client) : new ThrottlerStorageService(),
      }),
    }),
  ],
  providers: [
    ThrottleExemptions,
    ClientThrottlerGuard,
    { provide: APP_GUARD, useExisting: ClientThrottlerGuard },
  ],
  exports: [ThrottleExemptions, ClientThrottlerGuard],
})
export class ThrottlingModule {}
