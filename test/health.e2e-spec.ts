import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { startApp, type RunningApp } from './support/app.js';
import { ServerProcess } from './support/server-process.js';
import { parseExposition, samplesOf, total } from './support/prometheus.js';
import { TestRedis } from './support/redis-server.js';
import { TestPostgres } from './resilience/support/postgres-cluster.js';

interface Answer {
  status: number;
  body: any;
  ms: number;
}

interface DependenciesBody {
  details: Record<string, { status: string; latencyMs: number }>;
}

/** GET `path`, timed, with the JSON body. */
async function get(url: string, path: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${url}${path}`);
  const body: unknown = await response.json();
  return { status: response.status, body, ms: performance.now() - started };
}

/** Polls `path` until it answers `status`; the last answer either way. */
async function waitFor(url: string, path: string, status: number, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await get(url, path);
    if (answer.status === status || Date.now() > deadline) return answer;
    await sleep(100);
  }
}

/** The statuses of `/health/ready`, polled every 100 ms for `ms`. */
async function readinessFor(url: string, ms: number): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    statuses.push((await get(url, '/health/ready')).status);
    await sleep(100);
  }
  return statuses;
}

/** The `dependency_up` samples by dependency. */
async function dependencyUp(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Object.fromEntries(
    samplesOf(parseExposition(text), 'dependency_up').map((s) => [s.labels.dependency, s.value]),
  );
}

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available()) {
  process.stdout.write('SKIP health with Redis: redis-server is not on PATH\n');
}

describe('GET /health/ready', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ env: { REDIS_URL: '' } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('answers 200 naming only the state of this process', async () => {
    const ready = await get(server.url, '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ok',
      info: { lifecycle: { status: 'up' } },
      error: {},
      details: { lifecycle: { status: 'up' } },
    });
  });
});

describe('GET /health/ready during a drain', () => {
  it('answers 503 and logs it at info: a rolling update is not an incident', async () => {
    const server = await ServerProcess.start({
      env: { REDIS_URL: undefined, SHUTDOWN_DELAY_MS: '800', LOG_LEVEL: 'debug' },
    });
    const signalledAt = Date.now();
    try {
      server.signal('SIGTERM');
      const draining = await waitFor(server.url, '/health/ready', 503, 5_000);
      expect(draining.body).toMatchObject({
        code: 'NOT_READY',
        detail: 'The server is shutting down',
        checks: { lifecycle: { status: 'down', message: 'shutting down' } },
      });
      expect(await server.exited).toEqual({ code: 0, signal: null });
    } finally {
      await server.stop();
    }
    const logs = server.logs();
    const answers = logs.filter(
      (line) =>
        (line.req as { url?: string } | undefined)?.url === '/health/ready' &&
        (line.res as { statusCode?: number } | undefined)?.statusCode === 503,
    );
    expect(answers.length).toBeGreaterThan(0);
    expect(new Set(answers.map((line) => line.level))).toEqual(new Set(['info']));
    const loud = logs.filter(
      (line) =>
        (line.level === 'warn' || line.level === 'error') &&
        Date.parse(String(line.time)) >= signalledAt,
    );
    expect(loud).toEqual([]);
  });
});

withRedis('health with Redis configured', () => {
  let redis: TestRedis;
  let server: RunningApp;

  beforeAll(async () => {
    redis = await TestRedis.start();
    server = await startApp({ env: { REDIS_URL: redis.url } });
  });

  afterAll(async () => {
    await server?.close();
    await redis?.kill();
  });

  it('reports PostgreSQL and Redis up, each with its latency', async () => {
    const answer = await get(server.url, '/health/dependencies');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'ok',
      error: {},
      details: {
        postgres: { status: 'up', latencyMs: expect.any(Number) },
        redis: { status: 'up', latencyMs: expect.any(Number) },
      },
    });
    expect(Object.keys(answer.body.details).sort()).toEqual(['postgres', 'redis']);
    expect(await dependencyUp(server.url)).toEqual({ postgres: 1, redis: 1 });
  });

  it('stays ready while Redis is down; /health/dependencies says 503 naming it, then recovers', async () => {
    await redis.kill();

    expect(new Set(await readinessFor(server.url, 2_000))).toEqual(new Set([200]));
    const down = await waitFor(server.url, '/health/dependencies', 503);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 503,
      code: 'DEPENDENCY_DOWN',
      detail: expect.stringContaining('redis'),
      checks: {
        postgres: { status: 'up' },
        redis: { status: 'down', latencyMs: expect.any(Number), message: expect.any(String) },
      },
    });
    expect((await get(server.url, '/health/live')).status).toBe(200);
    expect(await dependencyUp(server.url)).toEqual({ postgres: 1, redis: 0 });

    await redis.restart();
    expect((await waitFor(server.url, '/health/dependencies', 200)).status).toBe(200);
    expect(await dependencyUp(server.url)).toEqual({ postgres: 1, redis: 1 });
  }, 30_000);
});

describe('health with PostgreSQL down', () => {
  let postgres: TestPostgres;
  let server: RunningApp;

  beforeAll(async () => {
    postgres = await TestPostgres.create();
    const url = await postgres.createDatabase('health_test');
    server = await startApp({ env: { DATABASE_URL: url, REDIS_URL: '' } });
  }, 60_000);

  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await postgres?.destroy();
  }, 30_000);

  it('stays ready, answers /health/dependencies 503 at once naming PostgreSQL, and recovers', async () => {
    expect((await get(server.url, '/health/dependencies')).status).toBe(200);

    await postgres.stop();

    const down = await waitFor(server.url, '/health/dependencies', 503);
    expect(down.body).toMatchObject({
      code: 'DEPENDENCY_DOWN',
      checks: { postgres: { status: 'down', latencyMs: expect.any(Number) } },
    });
    // Not a message of the driver: no address or user of the database in a public answer.
    expect(JSON.stringify(down.body)).not.toMatch(/127\.0\.0\.1|postgres:\/\/|ECONNREFUSED/);
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await get(server.url, '/health/dependencies'));
      await sleep(300);
    }
    expect(answers.map((answer) => answer.status)).toEqual([503, 503, 503, 503, 503]);
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(1_500);
    expect(new Set(await readinessFor(server.url, 2_000))).toEqual(new Set([200]));
    expect(await dependencyUp(server.url)).toEqual({ postgres: 0 });

    await postgres.start();
    const back = await waitFor(server.url, '/health/dependencies', 200);
    expect(back.body).toMatchObject({ details: { postgres: { status: 'up' } } });
    expect(await dependencyUp(server.url)).toEqual({ postgres: 1 });
  }, 40_000);
});

describe('health with the request pool saturated', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ env: { DATABASE_POOL_MAX: '2', REDIS_URL: '' } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('checks PostgreSQL on a connection of its own, not behind the queries in the pool', async () => {
    const dataSource = server.app.get(DataSource);
    // Both connections of the pool are busy for 2 s, and two more queries wait behind them.
    const busy = Promise.all([0, 1, 2, 3].map(() => dataSource.query('SELECT pg_sleep(1)')));
    await sleep(100);

    const ready = await get(server.url, '/health/ready');
    const dependencies = await get(server.url, '/health/dependencies');
    await busy;

    expect(ready.status).toBe(200);
    expect(dependencies.status).toBe(200);
    expect(dependencies.body.details.postgres.status).toBe('up');
    expect(dependencies.ms).toBeLessThan(900);
  });

  it('answers a flood of requests from one check a second', async () => {
    const count = async () =>
      total(
        parseExposition(await (await fetch(`${server.url}/metrics`)).text()),
        'dependency_check_duration_seconds_count',
        { dependency: 'postgres' },
      );
    const before = await count();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => get(server.url, '/health/dependencies')),
    );
    const after = await count();
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    // Every answer comes from a check made at most a second before; fifty requests make at
    // most two checks (one more if the second ticked over while they ran).
    const latencies = new Set(
      answers.map((answer) => (answer.body as DependenciesBody).details.postgres.latencyMs),
    );
    expect(latencies.size).toBeLessThanOrEqual(2);
    expect(after - before).toBeLessThanOrEqual(2);
  });
});
