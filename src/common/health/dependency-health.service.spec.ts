import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { RedisService } from '../redis/redis.service.js';
import { CHECK_REUSE_MS, CHECK_TIMEOUT_MS, DependencyHealth } from './dependency-health.service.js';
import type { PostgresProbe } from './postgres-probe.js';

/** A dependency whose next pings succeed, fail or hang, as the test sets it. */
class FakeDependency {
  pings = 0;
  mode: 'up' | 'down' | 'hang' = 'up';

  ping = (): Promise<void> => {
    this.pings += 1;
    if (this.mode === 'down') return Promise.reject(new Error('connect ECONNREFUSED 10.0.0.5'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    return Promise.resolve();
  };
}

function health({ redis = false } = {}) {
  const postgres = new FakeDependency();
  const cache = new FakeDependency();
  const observed: string[] = [];
  const metrics = {
    watchDependencies: jest.fn(),
    observeDependencyCheck: (name: string) => observed.push(name),
  };
  const redisService = {
    client: redis ? {} : null,
    separateCache: false,
    ping: cache.ping,
  };
  const service = new DependencyHealth(
    { ping: postgres.ping } as unknown as PostgresProbe,
    redisService as unknown as RedisService,
    metrics as unknown as MetricsService,
  );
  return { service, postgres, cache, observed };
}

/** Lets `ms` pass on the fake clock (timers and `performance.now()`). */
const pass = (ms: number) => jest.advanceTimersByTimeAsync(ms);

describe('DependencyHealth', () => {
  let warn: ReturnType<typeof jest.spyOn>;
  let log: ReturnType<typeof jest.spyOn>;

  beforeEach(() => {
    jest.useFakeTimers();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('checks PostgreSQL, and Redis only when it is configured', async () => {
    expect(Object.keys(await health().service.check())).toEqual(['postgres']);
    const { service, observed } = health({ redis: true });
    const report = await service.check();
    expect(report).toEqual({
      postgres: { status: 'up', latencyMs: expect.any(Number) },
      redis: { status: 'up', latencyMs: expect.any(Number) },
    });
    expect(observed.sort()).toEqual(['postgres', 'redis']);
  });

  it('shares one check between callers within a second, then checks again', async () => {
    const { service, postgres } = health();
    const reports = await Promise.all(Array.from({ length: 20 }, () => service.check()));
    expect(new Set(reports).size).toBe(1);
    expect(postgres.pings).toBe(1);
    await service.check();
    expect(postgres.pings).toBe(1);
    await pass(CHECK_REUSE_MS - 1);
    await service.check();
    expect(postgres.pings).toBe(1);
    await pass(1);
    await service.check();
    expect(postgres.pings).toBe(2);
  });

  it('counts a check with no answer in time as down, without the cause in the report', async () => {
    const { service, postgres } = health();
    postgres.mode = 'hang';
    const checking = service.check();
    await pass(CHECK_TIMEOUT_MS);
    expect((await checking).postgres).toEqual({
      status: 'down',
      latencyMs: CHECK_TIMEOUT_MS,
      message: `no answer within ${CHECK_TIMEOUT_MS} ms`,
    });
    postgres.mode = 'down'; // the timed-out check began a second ago: this one is new
    const failed = await service.check();
    expect(failed.postgres?.message).toBe('the check failed');
    expect(JSON.stringify(failed)).not.toContain('10.0.0.5');
  });

  it('logs a dependency going down once, with the cause, and once when it is back', async () => {
    const { service, postgres } = health();
    await service.check();
    postgres.mode = 'down';
    for (let i = 0; i < 3; i++) {
      await pass(CHECK_REUSE_MS);
      await service.check();
    }
    postgres.mode = 'up';
    await pass(CHECK_REUSE_MS);
    await service.check();
    expect(warn.mock.calls).toEqual([
      ['PostgreSQL fails its health check: connect ECONNREFUSED 10.0.0.5'],
    ]);
    expect(log.mock.calls).toEqual([['PostgreSQL answers its health check again']]);
    expect(postgres.pings).toBe(5);
  });
});
