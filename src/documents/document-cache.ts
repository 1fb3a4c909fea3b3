import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { FENCE_TTL_MS, type CacheStore } from '../common/cache/cache-store.js';
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
/**
 * A read older than this does not fill the cache. A fill compares the key with what the read
 * saw; a write's fence changes the key for FENCE_TTL_MS, so a read must fill well within
 * that, or a fence that came and went since could go unnoticed.
 */
const FILL_WINDOW_MS = FENCE_TTL_MS / 5;

/** What is cached under a document id: the record, or the fact that it does not exist. */
type Entry = { record: DocumentDto } | { missing: true };

/** A write to documents under way; `end` once its transaction has committed or failed. */
export interface CacheWrite {
  end(): Promise<void>;
}

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
 * every read), shared by every replica through the store. A write fences its documents in
 * the store before its commit and again after it; a read fills the cache only if the key is
 * still as the read found it before loading, checked atomically by the store, so a record
 * loaded before a write can never be cached after it, whichever replica loaded it. Concurrent
 * misses for one id in this process share one database read; ids that do not exist are
 * remembered briefly. When the store is slow or down, reads go to PostgreSQL and report
 * `BYPASS`, writes go on, and fences that could not be set are retried until they are.
 */
@Injectable()
export class DocumentCache {
  private readonly logger = new Logger(DocumentCache.name);
  private readonly ttlMs: number;
  private readonly inFlight = new Map<string, Promise<DocumentDto | null>>();
  /** Ends of writes that could not reach the store, by writer; retried before its next use. */
  private readonly pendingEnds = new Map<string, string[]>();

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

  /** The record for `id` (lower case), from the cache or else from `load`, and how it was served. */
  async read(
    id: string,
    load: (id: string) => Promise<DocumentDto | null>,
  ): Promise<{ record: DocumentDto | null; outcome: CacheOutcome }> {
    if (!this.enabled) {
      this.metrics.countCacheRead('BYPASS');
      return { record: await load(id), outcome: 'BYPASS' };
    }
    const startedAt = performance.now();
    let snapshot;
    try {
      await this.flushPendingEnds();
      snapshot = await withTimeout(this.store.read<Entry>(this.key(id)));
    } catch {
      this.metrics.countCacheRead('BYPASS');
      return { record: await this.loadOnce(id, load, null, startedAt), outcome: 'BYPASS' };
    }
    const cached = snapshot.value;
    const outcome = cached ? 'HIT' : 'MISS';
    this.metrics.countCacheRead(outcome);
    if (cached) return { record: 'record' in cached ? cached.record : null, outcome };
    return { record: await this.loadOnce(id, load, snapshot.fillToken, startedAt), outcome };
  }

  /**
   * Fences `ids` before a write to them commits: their entries go, and no read fills them
   * until the returned write has ended (call `end` after the commit, and after a failure).
   * A read of them under way in this process will not put its (older) result into the cache.
   */
  async beginWrite(ids: readonly string[]): Promise<CacheWrite> {
    const writer = randomUUID();
    for (const id of ids) this.inFlight.delete(id);
    const write = { end: () => this.endWrite(ids, writer) };
    if (!this.enabled || ids.length === 0) return write;
    try {
      await this.flushPendingEnds();
      await withTimeout(this.store.beginWrite(this.keys(ids), writer));
    } catch (error) {
      this.logger.warn(
        `Cache fence deferred for ${ids.length} document(s): ${(error as Error).message}`,
      );
    }
    return write;
  }

  private async endWrite(ids: readonly string[], writer: string): Promise<void> {
    // A read that began during the write may have loaded the old state: later reads in this
    // process must not share it.
    for (const id of ids) this.inFlight.delete(id);
    if (!this.enabled || ids.length === 0) return;
    try {
      await withTimeout(this.store.endWrite(this.keys(ids), writer));
    } catch (error) {
      this.pendingEnds.set(writer, [...ids]);
      this.logger.warn(
        `Cache invalidation deferred for ${ids.length} document(s): ${(error as Error).message}`,
      );
    }
  }

  private loadOnce(
    id: string,
    load: (id: string) => Promise<DocumentDto | null>,
    fillToken: string | null,
    startedAt: number,
  ): Promise<DocumentDto | null> {
    const running = this.inFlight.get(id);
    if (running) return running;
    const loading = load(id).then(async (record) => {
      const current = this.inFlight.get(id) === loading;
      if (fillToken !== null && current) await this.fill(id, fillToken, record, startedAt);
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

  private async fill(
    id: string,
    fillToken: string,
    record: DocumentDto | null,
    startedAt: number,
  ): Promise<void> {
    if (performance.now() - startedAt > FILL_WINDOW_MS) return;
    const entry: Entry = record ? { record } : { missing: true };
    const ttl = record ? this.ttlMs : Math.min(NEGATIVE_TTL_MS, this.ttlMs);
    await withTimeout(this.store.fill(this.key(id), fillToken, entry, ttl)).catch(() => undefined);
  }

  private async flushPendingEnds(): Promise<void> {
    if (this.pendingEnds.size === 0) return;
    const pending = [...this.pendingEnds];
    await withTimeout(
      Promise.all(pending.map(([writer, ids]) => this.store.endWrite(this.keys(ids), writer))),
    );
    for (const [writer] of pending) this.pendingEnds.delete(writer);
    const count = pending.reduce((sum, [, ids]) => sum + ids.length, 0);
    this.logger.log(`Deferred cache invalidation done for ${count} document(s)`);
  }

  private keys(ids: readonly string[]): string[] {
    return ids.map((id) => this.key(id));
  }

  private key(id: string): string {
    return `document:${id}`;
  }
}
