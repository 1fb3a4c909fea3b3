import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { RedisService } from '../redis/redis.service.js';
import { PROBE_ROUTES } from '../http/probe-routes.js';

/** The `route` label of every response no route matched (404, 405): one series, not one a path. */
export const UNMATCHED_ROUTE = 'unmatched';

/** How a document read was served; the document cache's `X-Cache` values. */
export type CacheReadOutcome = 'HIT' | 'MISS' | 'BYPASS';

/** Which limiter refused a request with 429. */
export type Limiter = 'ip' | 'login';

/** What the password hasher reports at each scrape. */
export interface HashQueueState {
  waiting: number;
  running: number;
}

/** A shared dependency as a check found it (see `DependencyHealth`). */
export interface DependencyUp {
  name: string;
  up: boolean;
}

/** What `build_info` says of the running build. */
export interface BuildInfo {
  version: string;
  commit: string;
  node: string;
}

/** The token of the `BuildInfo` that `MetricsModule` provides. */
export const BUILD_INFO = Symbol('BUILD_INFO');

/** This build: the version in package.json, the given commit, and the running Node.js. */
export function buildInfo(commit = 'unknown'): BuildInfo {
  // package.json is three folders up from both src/common/metrics and dist/common/metrics.
  const manifest = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return { version: manifest.version, commit, node: process.version };
}

/** From 1 ms (cached reads) to 10 s (a request that waited for bcrypt under load). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** From 0.5 ms (a healthy loopback round trip) to the 1 s after which a check counts as down. */
const CHECK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

let processRegistry: Registry | undefined;

/**
 * Process and event-loop metrics, collected once per process: they describe the process, not
 * an application in it, and prom-client never stops the event-loop monitor and GC observer it
 * starts for each registry, so each app (several per test process) must not start its own.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The Prometheus metrics of one application, in a registry of its own so that several apps in
 * one process never share a series. Counters are pushed by the code that sees the event;
 * gauges read their source at scrape time.
 */
@Injectable()
export class MetricsService {
  private readonly registry = new Registry();
  /** This app's families and the process ones, as one scrape. */
  private readonly exposed: Registry;
  private readHashQueue?: () => HashQueueState;
  private checkDependencies?: () => Promise<DependencyUp[]>;

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help:
      'Time from the start of a request to the end of its response, by method, route template ' +
      `(\`${UNMATCHED_ROUTE}\` when no route matched) and status code; health probes and ` +
      'scrapes are left out (see http_probe_requests_total)',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly probeRequests = new Counter({
    name: 'http_probe_requests_total',
    help:
      'Responses to health probes and metrics scrapes on the main port (/health/live, ' +
      '/health/ready, /health/dependencies, /metrics), by route and status code',
    labelNames: ['route', 'status_code'] as const,
    registers: [this.registry],
  });

  private readonly cacheReads = new Counter({
    name: 'document_cache_requests_total',
    help:
      'Reads of one document by id (GET /documents/{id} and /raw), by how the document cache ' +
      'served them: hit = found in the cache (a record, or a remembered "no such document"); ' +
      'miss = not in the cache, read from PostgreSQL and then stored; bypass = read from ' +
      'PostgreSQL without the cache, because it is off (CACHE_TTL_SECONDS=0) or its store ' +
      'failed or took longer than 250 ms',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly rateLimited = new Counter({
    name: 'http_rate_limited_total',
    help:
      'Requests refused with 429: limiter="ip" by the per-IP budget (RATE_LIMIT_MAX), ' +
      'limiter="login" by the sign-in limits (LOGIN_RATE_LIMIT_MAX per client, account and session)',
    labelNames: ['limiter'] as const,
    registers: [this.registry],
  });

  private readonly dependencyCheckDuration = new Histogram({
    name: 'dependency_check_duration_seconds',
    help:
      'Time each check of a shared dependency took (PostgreSQL: SELECT 1 on a connection of ' +
      'its own; Redis: PING), by dependency; a check with no answer after 1 s counts as failed',
    labelNames: ['dependency'] as const,
    buckets: CHECK_BUCKETS,
    registers: [this.registry],
    // The check a scrape starts is in that scrape, with its result in `dependency_up`.
    collect: async () => void (await this.checkNow()),
  });

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Optional() private readonly redis?: RedisService,
    @Optional() @Inject(BUILD_INFO) build: BuildInfo = buildInfo(),
  ) {
    for (const result of ['hit', 'miss', 'bypass']) this.cacheReads.inc({ result }, 0);
    for (const limiter of ['ip', 'login']) this.rateLimited.inc({ limiter }, 0);
    this.poolGauges();
    this.hashQueueGauges();
    this.redisGauge();
    this.dependencyGauge();
    this.buildInfoGauge(build);
    this.exposed = Registry.merge([processMetrics(), this.registry]);
  }

  /** Every family, in the Prometheus text format (version 0.0.4). */
  scrape(): Promise<string> {
    return this.exposed.metrics();
  }

  /**
   * Records one finished response; `route` is the matched template, if any. Probes and
   * scrapes are counted apart, without their duration.
   */
  observeRequest(method: string, route: string | undefined, status: number, seconds: number) {
    if (route !== undefined && PROBE_ROUTES.has(route)) {
      this.probeRequests.inc({ route, status_code: String(status) });
      return;
    }
    this.httpDuration.observe(
      { method, route: route ?? UNMATCHED_ROUTE, status_code: String(status) },
      seconds,
    );
  }

  /** Counts one document read by how the cache served it. */
  countCacheRead(outcome: CacheReadOutcome): void {
    this.cacheReads.inc({ result: outcome.toLowerCase() });
  }

  /** Counts one request refused with 429 by `limiter`. */
  countRateLimited(limiter: Limiter): void {
    this.rateLimited.inc({ limiter });
  }

  /** Has the password-hashing queue read at each scrape. */
  watchHashQueue(read: () => HashQueueState): void {
    this.readHashQueue = read;
  }

  /** Has the shared dependencies checked at each scrape (`check` may answer from a cache). */
  watchDependencies(check: () => Promise<DependencyUp[]>): void {
    this.checkDependencies = check;
  }

  /** Records one check of a shared dependency and how long it took. */
  observeDependencyCheck(dependency: string, seconds: number): void {
    this.dependencyCheckDuration.observe({ dependency }, seconds);
  }

  /** The pg pool under TypeORM's PostgreSQL driver, once the DataSource is initialised. */
  private pool(): Pool | undefined {
    const driver = this.dataSource.driver as { master?: Pool } | undefined;
    return driver?.master;
  }

  private poolGauges(): void {
    this.gauge(
      'db_pool_connections_in_use',
      'PostgreSQL connections of this process checked out by a query or transaction',
      () => {
        const pool = this.pool();
        return pool && pool.totalCount - pool.idleCount;
      },
    );
    this.gauge(
      'db_pool_connections_idle',
      'Open PostgreSQL connections of this process waiting for work',
      () => this.pool()?.idleCount,
    );
    this.gauge(
      'db_pool_waiting_clients',
      'Queries and transactions waiting for a connection because the pool is at DATABASE_POOL_MAX',
      () => this.pool()?.waitingCount,
    );
    this.gauge(
      'db_pool_connections_max',
      'Connections the pool may open (DATABASE_POOL_MAX)',
      () => this.pool()?.options.max,
    );
  }

  private hashQueueGauges(): void {
    this.gauge(
      'password_hashes_waiting',
      'bcrypt hash and compare operations (sign-up, login, password checks) waiting for a slot',
      () => this.readHashQueue?.().waiting,
    );
    this.gauge(
      'password_hashes_running',
      "bcrypt operations running now; at most one less than libuv's thread pool size",
      () => this.readHashQueue?.().running,
    );
  }

  private redisGauge(): void {
    const redis = this.redis;
    new Gauge({
      name: 'redis_connection_up',
      help:
        'Whether each Redis connection of this process is ready (1) or not (0): ' +
        'connection="shared" (REDIS_URL: rate-limit counters, and the cache unless ' +
        'CACHE_REDIS_URL is set), connection="cache" (CACHE_REDIS_URL, when it is set)',
      labelNames: ['connection'] as const,
      registers: [this.registry],
      collect() {
        for (const [connection, client] of Object.entries(redis?.connections() ?? {})) {
          this.set({ connection }, client.status === 'ready' ? 1 : 0);
        }
      },
    });
  }

  /** The dependencies as their owner checks them (or has just checked them). */
  private async checkNow(): Promise<DependencyUp[]> {
    return (await this.checkDependencies?.()) ?? [];
  }

  private dependencyGauge(): void {
    const check = () => this.checkNow();
    new Gauge({
      name: 'dependency_up',
      help:
        'Whether each shared dependency answered its last check (1) or not (0), checked at ' +
        'scrape time at most once a second: dependency="postgres", "redis" (REDIS_URL, when ' +
        'set), "redisCache" (CACHE_REDIS_URL, when set). Readiness does not depend on them',
      labelNames: ['dependency'] as const,
      registers: [this.registry],
      async collect() {
        for (const { name, up } of await check()) this.set({ dependency: name }, up ? 1 : 0);
      },
    });
  }

  private buildInfoGauge(build: BuildInfo): void {
    new Gauge({
      name: 'build_info',
      help:
        'Always 1; the labels name the running build: version (package.json), commit ' +
        '(GIT_COMMIT, "unknown" when unset) and node (the Node.js version)',
      labelNames: ['version', 'commit', 'node'] as const,
      registers: [this.registry],
    }).set({ ...build }, 1);
  }

  /** A gauge set from `read` at each scrape; left as it was when `read` has no answer. */
  private gauge(name: string, help: string, read: () => number | undefined): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  }
}
