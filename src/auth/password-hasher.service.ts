import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import bcrypt from 'bcrypt';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { AppConfig } from '../common/config/app-config.js';
import { MetricsService } from '../common/metrics/metrics.service.js';
import { HasherBusyException } from './hasher-busy.exception.js';

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

/**
 * The longest a password check may expect to wait for a slot; one that would wait longer is
 * refused at once (503) instead of queueing without limit. A flood far above bcrypt's capacity
 * would otherwise make every sign-in, an owner's included, wait behind it for as long as it
 * lasts, holding memory for each waiting request. A bound in time rather than in places holds
 * at every cost: at the default cost (a few hundred milliseconds a hash) a handful wait, at the
 * test suites' cost 4 hundreds do.
 */
export const MAX_HASH_WAIT_MS = 2_000;

/** Waiting hashes never exceed this, however fast they are, nor before one has been timed. */
export const MAX_QUEUED_HASHES = 256;

/** Weight of the newest hash in the moving average of hash durations. */
const DURATION_WEIGHT = 0.2;

/** A counting semaphore: `run` waits for a free slot, first come first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly slots: number,
    private readonly maxQueued = Infinity,
  ) {}

  /** Every slot is taken and `maxQueued` tasks wait: a task run now would wait beyond it. */
  get full(): boolean {
    return this.active >= this.slots && this.waiting.length >= this.maxQueued;
  }

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
 * `MAX_CONCURRENT_HASHES` at a time. A hash that would wait longer than `MAX_HASH_WAIT_MS`
 * (from the queue and the average duration of recent hashes), or behind `MAX_QUEUED_HASHES`,
 * is refused: `hash` and `verify` reject with `HasherBusyException` (503 with Retry-After) at
 * once. The queue is reported at each metrics scrape.
 */
@Injectable()
export class PasswordHasher {
  private readonly cost: number;
  private readonly slots = new Semaphore(MAX_CONCURRENT_HASHES, MAX_QUEUED_HASHES);
  private dummyHash?: Promise<string>;
  /** Moving average of recent hash durations; undefined until one has been timed. */
  private hashMs?: number;

  constructor(config: ConfigService<AppConfig, true>, metrics: MetricsService) {
    this.cost = config.getOrThrow('auth', { infer: true }).bcryptCost;
    metrics.watchHashQueue(() => ({ waiting: this.slots.queued, running: this.slots.running }));
  }

  /** Hash operations waiting for a free slot. */
  get queueDepth(): number {
    return this.slots.queued;
  }

  /** @throws HasherBusyException when the queue is full. */
  hash(password: string): Promise<string> {
    return this.run(() => bcrypt.hash(password, this.cost));
  }

  /** @throws HasherBusyException when the queue is full. */
  verify(password: string, hash: string): Promise<boolean> {
    return this.run(() => bcrypt.compare(password, hash));
  }

  /** How long a hash queued now would wait for a slot, by the recent durations. */
  private expectedWaitMs(): number {
    if (this.slots.running < MAX_CONCURRENT_HASHES) return 0;
    return ((this.slots.queued + 1) / MAX_CONCURRENT_HASHES) * (this.hashMs ?? 0);
  }

  /**
   * Throws `HasherBusyException` when a hash asked for now would be refused: lets a route
   * refuse before it does the rest of its work (the user lookup, validation).
   */
  assertAvailable(): void {
    const refusal = this.refusal();
    if (refusal) throw refusal;
  }

  /** The exception a hash asked for now would be refused with, if it would be. */
  private refusal(): HasherBusyException | undefined {
    const waitMs = this.expectedWaitMs();
    if (!this.slots.full && waitMs <= MAX_HASH_WAIT_MS) return undefined;
    return new HasherBusyException(Math.ceil(waitMs / 1000));
  }

  private run<T>(task: () => Promise<T>): Promise<T> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.slots.run(async () => {
      const started = performance.now();
      try {
        return await task();
      } finally {
        this.record(performance.now() - started);
      }
    });
  }

  private record(durationMs: number): void {
    this.hashMs =
      this.hashMs === undefined
        ? durationMs
        : this.hashMs + DURATION_WEIGHT * (durationMs - this.hashMs);
  }

  /**
   * Spends the time a real comparison would, for a username that does not exist, so that
   * response times do not tell which usernames do.
   */
  async verifyNothing(password: string): Promise<false> {
    // A refused first hash is not kept: the next call makes it again.
    this.dummyHash ??= this.hash('not a password of anyone').catch((error: unknown) => {
      this.dummyHash = undefined;
      throw error;
    });
    await this.verify(password, await this.dummyHash);
    return false;
  }

  /** True when `hash` was made at a lower cost than the current one. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) < this.cost;
  }
}
