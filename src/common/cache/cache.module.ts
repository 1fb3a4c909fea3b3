import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Keyv from 'keyv';
import type { AppConfig } from '../config/app-config.js';
import { createCacheStore } from './cache-store.js';

/** Injection token of the shared Keyv store. */
export const CACHE_STORE = Symbol('CACHE_STORE');

@Global()
@Module({
  providers: [
    {
      provide: CACHE_STORE,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>): Keyv =>
        createCacheStore(config.getOrThrow('redis', { infer: true }).url),
    },
  ],
  exports: [CACHE_STORE],
})
export class CacheStoreModule implements OnApplicationShutdown {
  constructor(@Inject(CACHE_STORE) private readonly store: Keyv) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.disconnect().catch(() => undefined);
  }
}
