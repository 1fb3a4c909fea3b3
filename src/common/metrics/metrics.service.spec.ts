import { describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { buildInfo, MetricsService } from './metrics.service.js';

/** A DataSource whose driver holds a pg pool with these counts (none before initialisation). */
function dataSourceWith(pool?: {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max: number };
}) {
  return { driver: pool ? { master: pool } : undefined } as unknown as DataSource;
}

/** The value of the sample written exactly as `series` (name and labels), if there is one. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('MetricsService', () => {
  it('exposes the families of the app, counters at zero, and the process ones', async () => {
    const text = await new MetricsService(dataSourceWith()).scrape();
    for (const family of [
      'http_request_duration_seconds histogram',
      'document_cache_requests_total counter',
      'http_rate_limited_total counter',
      'db_pool_connections_in_use gauge',
      'password_hashes_waiting gauge',
      'http_probe_requests_total counter',
      'dependency_up gauge',
      'dependency_check_duration_seconds histogram',
      'build_info gauge',
      'process_cpu_user_seconds_total counter',
      'nodejs_eventloop_lag_seconds gauge',
    ]) {
      expect(text).toContain(`# TYPE ${family}\n`);
    }
    expect(sample(text, 'document_cache_requests_total{result="bypass"}')).toBe(0);
    expect(sample(text, 'http_rate_limited_total{limiter="login"}')).toBe(0);
  });

  it('labels responses with the route template, or one label for unmatched paths', async () => {
    const metrics = new MetricsService(dataSourceWith());
    metrics.observeRequest('GET', '/documents/:id', 200, 0.003);
    metrics.observeRequest('GET', undefined, 404, 0.001);
    metrics.observeRequest('GET', undefined, 404, 0.001);
    const text = await metrics.scrape();
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="GET",route="/documents/:id",status_code="200"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"}',
      ),
    ).toBe(2);
  });

  it('counts probes and scrapes apart, out of the latency histogram', async () => {
    const metrics = new MetricsService(dataSourceWith());
    metrics.observeRequest('GET', '/health/ready', 200, 0.001);
    metrics.observeRequest('GET', '/health/ready', 503, 0.001);
    metrics.observeRequest('GET', '/metrics', 200, 0.02);
    metrics.observeRequest('GET', '/coffee', 418, 0.001);
    const text = await metrics.scrape();
    expect(text).not.toMatch(
      /^http_request_duration_seconds_count\{[^}]*route="\/(health|metrics)/m,
    );
    expect(sample(text, 'http_probe_requests_total{route="/health/ready",status_code="200"}')).toBe(
      1,
    );
    expect(sample(text, 'http_probe_requests_total{route="/health/ready",status_code="503"}')).toBe(
      1,
    );
    expect(sample(text, 'http_probe_requests_total{route="/metrics",status_code="200"}')).toBe(1);
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="GET",route="/coffee",status_code="418"}',
      ),
    ).toBe(1);
  });

  it('names the build: version, commit and Node.js', async () => {
    const build = { version: '9.8.7', commit: 'abc123', node: 'v24.0.0' };
    const text = await new MetricsService(dataSourceWith(), undefined, build).scrape();
    expect(sample(text, 'build_info{version="9.8.7",commit="abc123",node="v24.0.0"}')).toBe(1);
    expect(buildInfo()).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      commit: 'unknown',
      node: process.version,
    });
  });

  it('checks the dependencies at each scrape, with the durations of that check', async () => {
    const metrics = new MetricsService(dataSourceWith());
    let text = await metrics.scrape();
    expect(text).not.toMatch(/^dependency_up\{/m);
    let up = true;
    let checks = 0;
    metrics.watchDependencies(() => {
      checks += 1;
      metrics.observeDependencyCheck('postgres', 0.002);
      return Promise.resolve([
        { name: 'postgres', up },
        { name: 'redis', up: false },
      ]);
    });
    text = await metrics.scrape();
    expect(sample(text, 'dependency_up{dependency="postgres"}')).toBe(1);
    expect(sample(text, 'dependency_up{dependency="redis"}')).toBe(0);
    expect(
      sample(text, 'dependency_check_duration_seconds_count{dependency="postgres"}'),
    ).toBeGreaterThanOrEqual(1);
    up = false;
    text = await metrics.scrape();
    expect(sample(text, 'dependency_up{dependency="postgres"}')).toBe(0);
    expect(sample(text, 'dependency_check_duration_seconds_count{dependency="postgres"}')).toBe(
      checks,
    );
  });

  it('keeps the counts of each app apart', async () => {
    const one = new MetricsService(dataSourceWith());
    const other = new MetricsService(dataSourceWith());
    one.countCacheRead('HIT');
    one.countRateLimited('ip');
    const [oneText, otherText] = await Promise.all([one.scrape(), other.scrape()]);
    expect(sample(oneText, 'document_cache_requests_total{result="hit"}')).toBe(1);
    expect(sample(oneText, 'http_rate_limited_total{limiter="ip"}')).toBe(1);
    expect(sample(otherText, 'document_cache_requests_total{result="hit"}')).toBe(0);
    expect(sample(otherText, 'http_rate_limited_total{limiter="ip"}')).toBe(0);
  });

  it('reads the database pool at scrape time', async () => {
    const pool = { totalCount: 4, idleCount: 1, waitingCount: 0, options: { max: 10 } };
    const metrics = new MetricsService(dataSourceWith(pool));
    let text = await metrics.scrape();
    expect(sample(text, 'db_pool_connections_in_use')).toBe(3);
    expect(sample(text, 'db_pool_connections_idle')).toBe(1);
    expect(sample(text, 'db_pool_waiting_clients')).toBe(0);
    expect(sample(text, 'db_pool_connections_max')).toBe(10);

    Object.assign(pool, { totalCount: 10, idleCount: 0, waitingCount: 7 });
    text = await metrics.scrape();
    expect(sample(text, 'db_pool_connections_in_use')).toBe(10);
    expect(sample(text, 'db_pool_waiting_clients')).toBe(7);
  });

  it('reports the password-hashing queue through the reader it was given', async () => {
    const metrics = new MetricsService(dataSourceWith());
    expect(sample(await metrics.scrape(), 'password_hashes_waiting')).toBe(0);
    let state = { waiting: 5, running: 3 };
    metrics.watchHashQueue(() => state);
    let text = await metrics.scrape();
    expect(sample(text, 'password_hashes_waiting')).toBe(5);
    expect(sample(text, 'password_hashes_running')).toBe(3);
    state = { waiting: 0, running: 1 };
    text = await metrics.scrape();
    expect(sample(text, 'password_hashes_waiting')).toBe(0);
    expect(sample(text, 'password_hashes_running')).toBe(1);
  });
});
