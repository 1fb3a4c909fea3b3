import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { drain } from '../src/common/http/graceful-shutdown.js';
import { MetricsServer } from '../src/common/metrics/metrics-server.js';
import { login, signup } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call, type CallOptions } from './support/http.js';
import { parseExposition, samplesOf, total, type Exposition } from './support/prometheus.js';

const DURATION_COUNT = 'http_request_duration_seconds_count';
const CACHE_READS = 'document_cache_requests_total';
const RATE_LIMITED = 'http_rate_limited_total';
const PROBES = 'http_probe_requests_total';

/** GET /metrics, checked and parsed. */
async function scrape(url: string, options: CallOptions = {}): Promise<Exposition> {
  const reply = await call(url, 'GET', '/metrics', options);
  expect(reply.status).toBe(200);
  return parseExposition(reply.text);
}

/** Every label value of every sample: what must never contain an id or a raw path. */
function labelValues(exposition: Exposition): string[] {
  return exposition.samples.flatMap((sample) => Object.values(sample.labels));
}

/** Creates a public document as a new user and returns its path. */
async function publicDocument(url: string): Promise<string> {
  const session = await login(url, await signup(url));
  const created = await call(url, 'POST', '/documents', {
    session,
    body: { title: 'Metrics', content: 'counted', visibility: 'public' },
  });
  expect(created.status).toBe(201);
  return `/documents/${(created.body as { id: string }).id}`;
}

describe('GET /metrics', () => {
  let server: RunningApp;
  let url: string;

  beforeAll(async () => {
    server = await startApp();
    url = server.url;
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers the Prometheus text format with every family, uncached', async () => {
    const reply = await call(url, 'GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['cache-control']).toBe('no-store');
    const { types } = parseExposition(reply.text);
    expect(Object.fromEntries(types)).toMatchObject({
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      http_request_duration_seconds: 'histogram',
      [CACHE_READS]: 'counter',
      [RATE_LIMITED]: 'counter',
      db_pool_connections_in_use: 'gauge',
      db_pool_connections_idle: 'gauge',
      db_pool_waiting_clients: 'gauge',
      db_pool_connections_max: 'gauge',
      password_hashes_waiting: 'gauge',
      password_hashes_running: 'gauge',
      http_probe_requests_total: 'counter',
      dependency_up: 'gauge',
      dependency_check_duration_seconds: 'histogram',
      build_info: 'gauge',
    });
  });

  it('labels a document read with the route template, never with the id', async () => {
    const id = randomUUID();
    expect((await call(url, 'GET', `/documents/${id}`)).status).toBe(404);
    const metrics = await scrape(url);
    expect(
      total(metrics, DURATION_COUNT, {
        method: 'GET',
        route: '/documents/:id',
        status_code: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(labelValues(metrics).filter((value) => value.includes(id))).toEqual([]);
  });

  it('gives every path that matches no route the same label', async () => {
    const path = `/nothing-${randomBytes(6).toString('hex')}`;
    expect((await call(url, 'GET', path)).status).toBe(404);
    expect((await call(url, 'GET', `${path}/deeper?x=1`)).status).toBe(404);
    const metrics = await scrape(url);
    expect(
      total(metrics, DURATION_COUNT, { method: 'GET', route: 'unmatched', status_code: '404' }),
    ).toBeGreaterThanOrEqual(2);
    expect(labelValues(metrics).filter((value) => value.includes(path))).toEqual([]);
  });

  it('leaves probes and scrapes out of the latency histogram, and counts them apart', async () => {
    const probes = ['/health/live', '/health/ready', '/health/dependencies'];
    const before = await scrape(url);
    for (const path of probes) expect((await call(url, 'GET', path)).status).toBe(200);
    const metrics = await scrape(url);
    const routes = samplesOf(metrics, DURATION_COUNT).map((sample) => sample.labels.route);
    expect(routes.filter((route) => /^\/(health|metrics)/.test(route))).toEqual([]);
    const moved = (route: string) =>
      total(metrics, PROBES, { route, status_code: '200' }) -
      total(before, PROBES, { route, status_code: '200' });
    expect(probes.map(moved)).toEqual([1, 1, 1]);
    expect(moved('/metrics')).toBe(1); // the scrape `before`; this one is still running
  });

  it('names the build and reports each dependency with its checks', async () => {
    const metrics = await scrape(url);
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(samplesOf(metrics, 'build_info')).toEqual([
      {
        name: 'build_info',
        labels: { version, commit: server.config.metrics.gitCommit, node: process.version },
        value: 1,
      },
    ]);
    expect(total(metrics, 'dependency_up', { dependency: 'postgres' })).toBe(1);
    expect(
      total(metrics, 'dependency_check_duration_seconds_count', { dependency: 'postgres' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts a cache miss, then a hit, as X-Cache reports them', async () => {
    const path = await publicDocument(url);
    const before = await scrape(url);
    const outcomes = [];
    for (let i = 0; i < 2; i++) outcomes.push((await call(url, 'GET', path)).headers['x-cache']);
    expect(outcomes).toEqual(['MISS', 'HIT']);
    const after = await scrape(url);
    const moved = (result: string) =>
      total(after, CACHE_READS, { result }) - total(before, CACHE_READS, { result });
    expect({ hit: moved('hit'), miss: moved('miss'), bypass: moved('bypass') }).toEqual({
      hit: 1,
      miss: 1,
      bypass: 0,
    });
  });

  it('reports the database pool and the password-hashing queue as numbers', async () => {
    const metrics = await scrape(url);
    for (const name of [
      'db_pool_connections_in_use',
      'db_pool_connections_idle',
      'db_pool_waiting_clients',
      'password_hashes_waiting',
      'password_hashes_running',
    ]) {
      const [sample, ...more] = samplesOf(metrics, name);
      expect(more).toEqual([]);
      expect(Number.isInteger(sample.value) && sample.value >= 0).toBe(true);
    }
    expect(total(metrics, 'db_pool_connections_max')).toBe(server.config.database.poolMax);
  });
});

describe('GET /metrics with the cache off', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ env: { CACHE_TTL_SECONDS: '0' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('counts reads that bypass the cache', async () => {
    const path = await publicDocument(server.url);
    const before = await scrape(server.url);
    expect((await call(server.url, 'GET', path)).headers['x-cache']).toBe('BYPASS');
    const after = await scrape(server.url);
    expect(
      total(after, CACHE_READS, { result: 'bypass' }) -
        total(before, CACHE_READS, { result: 'bypass' }),
    ).toBe(1);
    expect(total(after, CACHE_READS, { result: 'hit' })).toBe(0);
  });
});

describe('GET /metrics and the rate limits', () => {
  const MAX = 3;
  let server: RunningApp;

  beforeAll(async () => {
    // Counters in this server's memory: nothing shared with other suites' Redis keys.
    server = await startApp({
      env: { REDIS_URL: '', RATE_LIMIT_MAX: String(MAX), LOGIN_RATE_LIMIT_MAX: '2' },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('counts the 429s of the per-IP limiter, which never refuses a scrape', async () => {
    const from = { localAddress: '127.0.3.1' };
    const statuses: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      statuses.push((await call(server.url, 'GET', '/coffee', from)).status);
    }
    expect(statuses).toEqual([...Array<number>(MAX).fill(418), 429]);

    let metrics!: Exposition;
    for (let i = 0; i <= MAX; i++) metrics = await scrape(server.url, from);
    expect(total(metrics, RATE_LIMITED, { limiter: 'ip' })).toBe(1);
    expect(total(metrics, RATE_LIMITED, { limiter: 'login' })).toBe(0);
    expect(
      total(metrics, DURATION_COUNT, { method: 'GET', route: '/coffee', status_code: '429' }),
    ).toBe(1);
  });

  it('counts the 429s of the sign-in limits apart', async () => {
    const before = await scrape(server.url);
    const attempt = () =>
      call(server.url, 'POST', '/auth/login', {
        localAddress: '127.0.3.2',
        body: { username: `nobody_${randomBytes(4).toString('hex')}`, password: 'not the one' },
      });
    const statuses = [(await attempt()).status, (await attempt()).status, (await attempt()).status];
    expect(statuses).toEqual([401, 401, 429]);
    const after = await scrape(server.url);
    const moved = (limiter: string) =>
      total(after, RATE_LIMITED, { limiter }) - total(before, RATE_LIMITED, { limiter });
    expect({ ip: moved('ip'), login: moved('login') }).toEqual({ ip: 0, login: 1 });
  });
});

describe('GET /metrics on METRICS_PORT', () => {
  let server: RunningApp;
  let metricsUrl: string;

  beforeAll(async () => {
    // Port 0: the system picks a free one, which the listener reports.
    server = await startApp({
      env: {
        METRICS_PORT: '0',
        HOST: '127.0.0.1',
        GIT_COMMIT: '0123abc',
        SHUTDOWN_DELAY_MS: '600',
      },
    });
    metricsUrl = `http://127.0.0.1:${server.app.get(MetricsServer).port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('serves the metrics on that port only: the main port answers 404', async () => {
    const reply = await call(metricsUrl, 'GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['cache-control']).toBe('no-store');
    const metrics = parseExposition(reply.text);
    expect(samplesOf(metrics, 'build_info')[0].labels.commit).toBe('0123abc');
    expect(total(metrics, 'dependency_up', { dependency: 'postgres' })).toBe(1);

    const main = await call(server.url, 'GET', '/metrics');
    expect(main.status).toBe(404);
    expect(main.body).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(main.text).not.toContain('build_info');
  });

  it('answers 404 for any other path and 405 for another method, as problems', async () => {
    const other = await call(metricsUrl, 'GET', '/health/ready');
    expect(other.status).toBe(404);
    expect(other.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(other.body).toMatchObject({ status: 404, code: 'NOT_FOUND', instance: '/health/ready' });
    const post = await call(metricsUrl, 'POST', '/metrics', { body: {} });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(post.body).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    const head = await call(metricsUrl, 'HEAD', '/metrics');
    expect([head.status, head.text]).toEqual([200, '']);
  });

  it('keeps answering while the server drains, and closes with it', async () => {
    const draining = drain(server.app, server.config.shutdown, 'SIGTERM');
    await sleep(100);
    expect((await call(server.url, 'GET', '/health/ready')).status).toBe(503);
    expect((await call(metricsUrl, 'GET', '/metrics')).status).toBe(200);
    expect(await draining).toBe(0);
    await expect(call(metricsUrl, 'GET', '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });
});
