import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';

/** The service's Redis connections: `shared` for rate-limit counters, `cache` for the cache. */
export type RedisConnectionName = 'shared' | 'cache';

/**
 * The service's Redis connections, or none when `REDIS_URL` is unset: the shared one (rate-limit
 * counters, and the document cache unless `CACHE_REDIS_URL` names another instance) and, with
 * `CACHE_REDIS_URL`, one to the cache's own instance. Commands fail fast while Redis is
 * unreachable (no offline queue) and each client reconnects by itself, so an outage degrades
 * what depends on Redis without ever crashing the process.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  /** The shared connection: rate-limit counters. */
  readonly client: Redis | null;
  /** The document cache's connection: `client` itself unless CACHE_REDIS_URL differs. */
  readonly cacheClient: Redis | null;

  constructor(config: ConfigService<AppConfig, true>) {
    const { url, cacheUrl } = config.getOrThrow('redis', { infer: true });
    this.client = url ? this.connect(url, 'docs-api', 'Redis') : null;
    this.cacheClient =
      cacheUrl && cacheUrl !== url
        ? this.connect(cacheUrl, 'docs-api-cache', 'the cache Redis (CACHE_REDIS_URL)')
        : this.client;
    if (!url) {
      this.logger.warn(
        'REDIS_URL is not set: the cache and rate-limit counters live in process memory and are not shared between replicas',
      );
    }
  }

  /** Whether the cache has a connection of its own (CACHE_REDIS_URL names another instance). */
  get separateCache(): boolean {
    return this.cacheClient !== null && this.cacheClient !== this.client;
  }

  /** Each open connection by name; the cache's only when it has its own. */
  connections(): Partial<Record<RedisConnectionName, Redis>> {
    return {
      ...(this.client ? { shared: this.client } : {}),
      ...(this.separateCache && this.cacheClient ? { cache: this.cacheClient } : {}),
    };
  }

  /** Resolves when the shared Redis answers PING; rejects when it is down or not configured. */
  async ping(): Promise<void> {
    if (!this.client) throw new Error('Redis is not configured');
    await this.client.ping();
  }

  /** Resolves when the cache's Redis answers PING; rejects when it is down or not configured. */
  async pingCache(): Promise<void> {
    if (!this.cacheClient) throw new Error('Redis is not configured');
    await this.cacheClient.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      Object.values(this.connections()).map((client) =>
        client.quit().catch(() => client.disconnect()),
      ),
    );
  }

  private connect(url: string, connectionName: string, label: string): Redis {
    const client = new Redis(url, {
      connectionName,
      connectTimeout: 2_000,
      commandTimeout: 1_000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      // Commands issued while the event loop handles one batch of I/O (the rate-limit hits of
      // the requests that arrived together) go to Redis in one write: over loopback, a write
      // per command was the largest single cost of a cached read (see bench/RESULTS.md).
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    let reachable = true;
    client.on('ready', () => {
      if (!reachable) this.logger.log(`${label} is reachable again`);
      reachable = true;
    });
    client.on('error', (error: Error) => {
      if (reachable) this.logger.warn(`${label} is unreachable: ${error.message}`);
      reachable = false;
    });
    return client;
  }
}
