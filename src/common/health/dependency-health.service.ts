import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { RedisService } from '../redis/redis.service.js';
import { PostgresProbe } from './postgres-probe.js';

/** The shared dependencies checked: `redisCache` only when CACHE_REDIS_URL names its own. */
export type DependencyName = 'postgres' | 'redis' | 'redisCache';

/** One dependency as its last check found it. */
export interface DependencyState {
  status: 'up' | 'down';
  /** Time the check took, in milliseconds (until it failed, for a dependency that is down). */
  latencyMs: number;
  /** Why it is down, in words that name no address or credential (the log has the cause). */
  message?: string;
}

export type DependencyReport = Partial<Record<DependencyName, DependencyState>>;

/** A check that has no answer by then counts as down. */
export const CHECK_TIMEOUT_MS = 1_000;

/** Answers within this age are served again: a flood of requests costs one check a second. */
export const CHECK_REUSE_MS = 1_000;

const LABELS: Record<DependencyName, string> = {
  postgres: 'PostgreSQL',
  redis: 'Redis (REDIS_URL)',
  redisCache: 'the cache Redis (CACHE_REDIS_URL)',
};

class CheckTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** `work`, or a `CheckTimeout` once `ms` have passed. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(ms)), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The state of the shared dependencies (PostgreSQL, and Redis when configured), for
 * `/health/dependencies` and the `dependency_*` metrics. Nothing here decides readiness: the
 * service keeps serving what it can while a dependency is down. Each check runs at most once
 * a second whoever asks; a change of state is logged once.
 */
@Injectable()
export class DependencyHealth implements OnModuleInit {
  private readonly logger = new Logger(DependencyHealth.name);
  private latest?: { startedAt: number; report: Promise<DependencyReport> };
  private readonly wasUp = new Map<DependencyName, boolean>();

  constructor(
    private readonly postgres: PostgresProbe,
    private readonly redis: RedisService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.metrics.watchDependencies(async () =>
      Object.entries(await this.check()).map(([name, state]) => ({
        name,
        up: state.status === 'up',
      })),
    );
  }

  /** Every dependency, checked now or at most `CHECK_REUSE_MS` ago. */
  check(): Promise<DependencyReport> {
    const now = performance.now();
    if (this.latest && now - this.latest.startedAt < CHECK_REUSE_MS) return this.latest.report;
    const report = this.checkAll();
    this.latest = { startedAt: now, report };
    return report;
  }

  private async checkAll(): Promise<DependencyReport> {
    const checks: [DependencyName, () => Promise<unknown>][] = [
      ['postgres', () => this.postgres.ping(CHECK_TIMEOUT_MS)],
    ];
    if (this.redis.client) checks.push(['redis', () => this.redis.ping()]);
    if (this.redis.separateCache) checks.push(['redisCache', () => this.redis.pingCache()]);
    const states = await Promise.all(checks.map(([name, ping]) => this.checkOne(name, ping)));
    return Object.fromEntries(checks.map(([name], i) => [name, states[i]]));
  }

  private async checkOne(
    name: DependencyName,
    ping: () => Promise<unknown>,
  ): Promise<DependencyState> {
    const started = performance.now();
    let failure: unknown;
    try {
      await within(ping(), CHECK_TIMEOUT_MS);
    } catch (error) {
      failure = error;
    }
    const seconds = (performance.now() - started) / 1000;
    const up = failure === undefined;
    this.metrics.observeDependencyCheck(name, seconds);
    this.logChange(name, failure);
    const latencyMs = Math.round(seconds * 10_000) / 10;
    if (up) return { status: 'up', latencyMs };
    const message = failure instanceof CheckTimeout ? failure.message : 'the check failed';
    return { status: 'down', latencyMs, message };
  }

  private logChange(name: DependencyName, failure: unknown): void {
    const up = failure === undefined;
    const before = this.wasUp.get(name);
    this.wasUp.set(name, up);
    if (up && before === false) this.logger.log(`${LABELS[name]} answers its health check again`);
    if (!up && before !== false) {
      const cause = failure instanceof Error ? failure.message : 'an error that is not an Error';
      this.logger.warn(`${LABELS[name]} fails its health check: ${cause}`);
    }
  }
}
