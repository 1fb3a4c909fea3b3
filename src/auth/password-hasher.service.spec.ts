import { describe, expect, it } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppConfig } from '../common/config/app-config.js';
import type { HashQueueState, MetricsService } from '../common/metrics/metrics.service.js';
import { HasherBusyException } from './hasher-busy.exception.js';
import {
  MAX_CONCURRENT_HASHES,
  MAX_QUEUED_HASHES,
  PasswordHasher,
  Semaphore,
} from './password-hasher.service.js';

const configWithCost = (bcryptCost: number) =>
  ({ getOrThrow: () => ({ bcryptCost }) }) as unknown as ConfigService<AppConfig, true>;

/** Keeps the queue reader the hasher hands to the metrics. */
class FakeMetrics {
  read?: () => HashQueueState;
  watchHashQueue(read: () => HashQueueState): void {
    this.read = read;
  }
}

const hasherWithCost = (bcryptCost: number, metrics = new FakeMetrics()) =>
  new PasswordHasher(configWithCost(bcryptCost), metrics as unknown as MetricsService);

describe('Semaphore', () => {
  it('never runs more tasks at once than it has slots, and runs them all', async () => {
    const semaphore = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        semaphore.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(5);
          running -= 1;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('frees the slot of a task that fails', async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(semaphore.run(() => Promise.resolve('next'))).resolves.toBe('next');
  });
});

describe('PasswordHasher', () => {
  const hasher = hasherWithCost(4);

  it('leaves at least one libuv thread for other work', () => {
    expect(MAX_CONCURRENT_HASHES).toBeGreaterThanOrEqual(1);
    expect(MAX_CONCURRENT_HASHES).toBeLessThan(Number(process.env.UV_THREADPOOL_SIZE ?? 4));
  });

  it('hashes with bcrypt at the configured cost and verifies', async () => {
    const hash = await hasher.hash('correct horse');
    expect(hash).toMatch(/^\$2b\$04\$/);
    await expect(hasher.verify('correct horse', hash)).resolves.toBe(true);
    await expect(hasher.verify('wrong horse', hash)).resolves.toBe(false);
  });

  it('answers false for a user that does not exist, after doing the same work', async () => {
    await expect(hasher.verifyNothing('anything at all')).resolves.toBe(false);
  });

  it('asks for a rehash only of hashes made at a lower cost', async () => {
    const cheap = await hasher.hash('pw');
    const stronger = hasherWithCost(5);
    expect(hasher.needsRehash(cheap)).toBe(false);
    expect(stronger.needsRehash(cheap)).toBe(true);
    expect(stronger.needsRehash(await stronger.hash('pw'))).toBe(false);
  });

  it('reports the operations waiting for a slot and those running', async () => {
    const metrics = new FakeMetrics();
    const watched = hasherWithCost(4, metrics);
    expect(metrics.read?.()).toEqual({ waiting: 0, running: 0 });
    const work = Array.from({ length: MAX_CONCURRENT_HASHES + 2 }, () => watched.hash('pw'));
    expect(metrics.read?.()).toEqual({ waiting: 2, running: MAX_CONCURRENT_HASHES });
    await Promise.all(work);
    expect(metrics.read?.()).toEqual({ waiting: 0, running: 0 });
  });

  it('refuses at once, with 503 HASHER_BUSY and Retry-After, what would wait too long', async () => {
    const busy = hasherWithCost(10);
    const hash = await busy.hash('pw'); // times one hash
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        busy.verify('pw', hash).then(
          () => ({ refused: false, error: undefined as unknown, at: performance.now() - started }),
          (error: unknown) => ({ refused: true, error, at: performance.now() - started }),
        ),
      ),
    );
    const refused = outcomes.filter((outcome) => outcome.refused);
    const served = outcomes.filter((outcome) => !outcome.refused);
    expect(refused.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(MAX_CONCURRENT_HASHES);
    for (const { error } of refused) {
      expect(error).toBeInstanceOf(HasherBusyException);
      expect((error as HasherBusyException).getStatus()).toBe(503);
      expect((error as HasherBusyException).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((error as HasherBusyException).getResponse()).toMatchObject({ code: 'HASHER_BUSY' });
    }
    // Refusals come before the first accepted check has finished; no check waited unbounded.
    const firstServed = Math.min(...served.map((outcome) => outcome.at));
    expect(Math.max(...refused.map((outcome) => outcome.at))).toBeLessThan(firstServed);
    // Once the queue drains, hashes are taken again.
    await expect(busy.verify('pw', hash)).resolves.toBe(true);
  });

  it('never queues more than MAX_QUEUED_HASHES, even before a hash has been timed', async () => {
    const fresh = hasherWithCost(4);
    const outcomes = await Promise.allSettled(
      Array.from({ length: MAX_CONCURRENT_HASHES + MAX_QUEUED_HASHES + 5 }, () => fresh.hash('pw')),
    );
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused).toHaveLength(5);
  });
});

describe('Semaphore with a bounded queue', () => {
  it('says it is full when every slot is taken and the queue holds its maximum', async () => {
    const semaphore = new Semaphore(1, 2);
    const release: (() => void)[] = [];
    const hold = () => semaphore.run(() => new Promise<void>((done) => release.push(done)));
    const held = [hold(), hold(), hold()];
    expect(semaphore.full).toBe(true);
    await sleep(1);
    release.shift()!();
    await sleep(1);
    expect(semaphore.full).toBe(false);
    while (release.length > 0 || semaphore.running > 0) {
      release.shift()?.();
      await sleep(1);
    }
    await Promise.all(held);
  });
});
