import { afterEach, describe, expect, it } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../config/app-config.js';
import { RedisService } from './redis.service.js';

/** Nothing listens here: the clients only need to exist, not to connect. */
const A = 'redis://127.0.0.1:1/0';
const B = 'redis://127.0.0.1:1/1';

function serviceFor(redis: AppConfig['redis']): RedisService {
  const config = { getOrThrow: () => redis } as unknown as ConfigService<AppConfig, true>;
  return new RedisService(config);
}

describe('RedisService', () => {
  let service: RedisService | undefined;

  afterEach(async () => {
    await service?.onApplicationShutdown();
    service = undefined;
  });

  it('has no connection without REDIS_URL', () => {
    service = serviceFor({});
    expect([service.client, service.cacheClient, service.connections()]).toEqual([null, null, {}]);
  });

  it('gives the cache the shared connection when its URL is the same', () => {
    service = serviceFor({ url: A, cacheUrl: A });
    expect(service.cacheClient).toBe(service.client);
    expect(service.separateCache).toBe(false);
    expect(Object.keys(service.connections())).toEqual(['shared']);
  });

  it('opens a connection of its own for a cache on another URL', () => {
    service = serviceFor({ url: A, cacheUrl: B });
    expect(service.cacheClient).not.toBe(service.client);
    expect(service.separateCache).toBe(true);
    expect(service.connections()).toEqual({ shared: service.client, cache: service.cacheClient });
    expect(service.cacheClient?.options.connectionName).toBe('docs-api-cache');
    expect(service.cacheClient?.options.enableOfflineQueue).toBe(false);
    expect(service.cacheClient?.options.enableAutoPipelining).toBe(true);
  });
});
