import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { CacheStore } from '../common/cache/cache-store.js';
import { CACHE_STORE } from '../common/cache/cache.module.js';
import type { AppConfig } from '../common/config/app-config.js';
import { MetricsService } from '../common/metrics/metrics.service.js';
import type { DocumentDto } from './dto/document.dto.js';

/** How a read was served: from the cache, from PostgreSQL after a miss, or around the cache. */
export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS';

/** Longest wait for the cache store before a read or write goes on without it. */
const STORE_TIMEOUT_MS = 250;
/** How long "no such document" is remembered: short, so the negative cache stays small. */
const NEGATIVE_TTL_MS = 5_000;

/** What is cached under a document id: the record, or the fact that it does not exist. */
type Entry = { record: DocumentDto } | { missing: true };

class StoreTimeout extends Error {}

function withTimeout<T>(operation: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeout('cache store timed out')), STORE_TIMEOUT_MS);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Read-through cache of document records (not of HTTP responses: callers authorise after
 * every read). Concurrent misses for one id in this process share one database read; ids
 * that do not exist are remembered briefly. When the store is slow or down, reads go to
 * PostgreSQL and report `BYPASS`, and failed invalidations are retried until they succeed.
 */
@Injectable()
export class DocumentCache {
  private readonly logger = new Logger(DocumentCache.name);
  private readonly ttlMs: number;
  private readonly inFlight = new Map<string, Promise<DocumentDto | null>>();
  /** Ids whose cached entry could not be deleted; retried before the next use of the store. */
  private readonly pendingDeletes = new Set<string>();

  constructor(
    @Inject(CACHE_STORE) private readonly store: CacheStore,
    config: ConfigService<AppConfig, true>,
    private readonly metrics: MetricsService,
  ) {
    this.ttlMs = config.getOrThrow('cache', { infer: true }).ttlSeconds * 1000;
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The record for `id`, from the cache or else from `load`, and how it was served. */
  async read(
    id: string,
    load: (id: string) => Promise<DocumentDto | null>,
  ): Promise<{ record: DocumentDto | null; outcome: CacheOutcome }> {
    if (!this.enabled) {
      this.metrics.countCacheRead('BYPASS');
      return { record: await load(id), outcome: 'BYPASS' };
    }
    let cached: Entry | undefined;
    try {
      await this.flushPendingDeletes();
      cached = await withTimeout(this.store.get<Entry>(this.key(id)));
    } catch {
      this.metrics.countCacheRead('BYPASS');
      return { record: await this.loadOnce(id, load, false), outcome: 'BYPASS' };
    }
    const outcome = cached ? 'HIT' : 'MISS';
    this.metrics.countCacheRead(outcome);
    if (cached) return { record: 'record' in cached ? cached.record : null, outcome };
    return { record: await this.loadOnce(id, load, true), outcome };
  }

  /**
   * Removes the entries of `ids`, before a write is acknowledged. A read of them that is
   * under way in this process will not put its (older) result into the cache.
   */
  async forget(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.inFlight.delete(id);
    if (!this.enabled || ids.length === 0) return;
    try {
      await withTimeout(this.store.deleteMany(ids.map((id) => this.key(id))));
    } catch (error) {
      for (const id of ids) this.pendingDeletes.add(id);
      this.logger.warn(
        `Cache invalidation deferred for ${ids.length} document(s): ${(error as Error).message}`,
      );
    }
  }

  private loadOnce(
    id: string,
    load: (id: string) => Promise<DocumentDto | null>,
    fill: boolean,
  ): Promise<DocumentDto | null> {
    const running = this.inFlight.get(id);
    if (running) return running;
    const loading = load(id).then(async (record) => {
      if (fill && this.inFlight.get(id) === loading) await this.fill(id, record);
      return record;
    });
    this.inFlight.set(id, loading);
    void loading
      .finally(() => {
        if (this.inFlight.get(id) === loading) this.inFlight.delete(id);
      })
      .catch(() => undefined);
    return loading;
  }

  private async fill(id: string, record: DocumentDto | null): Promise<void> {
    const entry: Entry = record ? { record } : { missing: true };
    const ttl = record ? this.ttlMs : Math.min(NEGATIVE_TTL_MS, this.ttlMs);
    await withTimeout(this.store.set(this.key(id), entry, ttl)).catch(() => undefined);
  }

  private async flushPendingDeletes(): Promise<void> {
    if (this.pendingDeletes.size === 0) return;
    const ids = [...this.pendingDeletes];
    await withTimeout(this.store.deleteMany(ids.map((id) => this.key(id))));
    for (const id of ids) this.pendingDeletes.delete(id);
    this.logger.log(`Deferred cache invalidation done for ${ids.length} document(s)`);
  }

  private key(id: string): string {
    return `document:${id}`;
  }
}
