import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import bcrypt from 'bcrypt';
import { availableParallelism } from 'node:os';
import type { AppConfig } from '../common/config/app-config.js';
import { MetricsService } from '../common/metrics/metrics.service.js';

/**
 * Hash operations allowed at once: one less than libuv's pool (4 unless UV_THREADPOOL_SIZE
 * says otherwise), so that a login storm never takes every thread that file and DNS work
 * also needs, and one less than the CPU cores, so that it never takes every core from the
 * event loop either (bcrypt is pure CPU: more hashes than cores only slow everything down).
 */
export const MAX_CONCURRENT_HASHES = Math.max(
  1,
  Math.min(Number(process.env.UV_THREADPOOL_SIZE ?? 4), availableParallelism()) - 1,
);

/** A counting semaphore: `run` waits for a free slot, first come first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly slots: number) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** Tasks holding a slot now. */
  get running(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) await new Promise<void>((wake) => this.waiting.push(wake));
    else this.active += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/**
 * bcrypt at the configured cost, always asynchronous and never more than
 * `MAX_CONCURRENT_HASHES` at a time. Its queue is reported at each metrics scrape.
 */
@Injectable()
export class PasswordHasher {
  private readonly cost: number;
  private readonly slots = new Semaphore(MAX_CONCURRENT_HASHES);
  private dummyHash?: Promise<string>;

  constructor(config: ConfigService<AppConfig, true>, metrics: MetricsService) {
    this.cost = config.getOrThrow('auth', { infer: true }).bcryptCost;
    metrics.watchHashQueue(() => ({ waiting: this.slots.queued, running: this.slots.running }));
  }

  /** Hash operations waiting for a free slot. */
  get queueDepth(): number {
    return this.slots.queued;
  }

  hash(password: string): Promise<string> {
    return this.slots.run(() => bcrypt.hash(password, this.cost));
  }

  verify(password: string, hash: string): Promise<boolean> {
    return this.slots.run(() => bcrypt.compare(password, hash));
  }

  /**
   * Spends the time a real comparison would, for a username that does not exist, so that
   * response times do not tell which usernames do.
   */
  async verifyNothing(password: string): Promise<false> {
    this.dummyHash ??= this.hash('not a password of anyone');
    await this.verify(password, await this.dummyHash);
    return false;
  }

  /** True when `hash` was made at a lower cost than the current one. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) < this.cost;
  }
}
