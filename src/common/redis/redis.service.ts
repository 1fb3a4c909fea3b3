import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';

/**
 * The one shared Redis connection, or none when `REDIS_URL` is unset. Commands fail fast
 * while Redis is unreachable (no offline queue) and the client reconnects by itself, so an
 * outage degrades what depends on Redis without ever crashing the process.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly client: Redis | null;
  private reachable = true;

  constructor(config: ConfigService<AppConfig, true>) {
    const { url } = config.getOrThrow('redis', { infer: true });
    this.client = url ? this.connect(url) : null;
    if (!url) {
      this.logger.warn(
        'REDIS_URL is not set: the cache and rate-limit counters live in process memory and are not shared between replicas',
      );
    }
  }

  /** Resolves when Redis answers PING; rejects when it is down or not configured. */
  async ping(): Promise<void> {
    if (!this.client) throw new Error('Redis is not configured');
    await this.client.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.client) return;
    await this.client.quit().catch(() => this.client?.disconnect());
  }

  private connect(url: string): Redis {
    const client = new Redis(url, {
      connectionName: 'docs-api',
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
    client.on('ready', () => {
      if (!this.reachable) this.logger.log('Redis is reachable again');
      this.reachable = true;
    });
    client.on('error', (error: Error) => {
      if (this.reachable) this.logger.warn(`Redis is unreachable: ${error.message}`);
      this.reachable = false;
    });
    return client;
  }
}
