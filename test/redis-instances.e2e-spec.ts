import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { login, signup } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call } from './support/http.js';
import { TestRedis } from './support/redis-server.js';

/**
 * Rate-limit counters on REDIS_URL and the document cache on CACHE_REDIS_URL, two private
 * redis-servers: each key lands on its own instance, the dependency checks and metrics see
 * both connections, and shutdown closes both.
 */

/** Requests per window per client; the attacker's address spends it, the others stay far below. */
const MAX = 30;

async function waitForStatus(url: string, status: number, timeoutMs = 10_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(url);
    if (response.status === status || Date.now() > deadline) return response;
    await sleep(100);
  }
}

/** Connections on `redis` that the service opened, by name. */
async function serviceConnections(redis: Redis): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return [...list.matchAll(/ name=(docs-api\S*)/g)].map((match) => match[1]);
}

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available())
  process.stdout.write('SKIP redis instances: redis-server not on PATH\n');

withRedis('counters on REDIS_URL, the cache on CACHE_REDIS_URL', () => {
  let counters: TestRedis;
  let cache: TestRedis;
  let onCounters: Redis;
  let onCache: Redis;
  let server: RunningApp;

  beforeAll(async () => {
    [counters, cache] = await Promise.all([TestRedis.start(), TestRedis.start()]);
    onCounters = new Redis(counters.url);
    onCache = new Redis(cache.url);
    server = await startApp({
      env: {
        REDIS_URL: counters.url,
        CACHE_REDIS_URL: cache.url,
        RATE_LIMIT_MAX: String(MAX),
        RATE_LIMIT_WINDOW_MS: '60000',
      },
    });
  }, 30_000);

  afterAll(async () => {
    await server?.close().catch(() => undefined);
    onCounters?.disconnect();
    onCache?.disconnect();
    await Promise.all([counters?.kill(), cache?.kill()]);
  });

  it('keeps cache entries only on the cache instance and counters only on the other', async () => {
    const account = await signup(server.url);
    const session = await login(server.url, account);
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'split', content: 'on two instances', visibility: 'public' },
    });
    expect(created.status).toBe(201);
    const path = `/documents/${created.body.id}`;

    const first = await call(server.url, 'GET', path);
    const second = await call(server.url, 'GET', path);
    expect([first.status, first.headers['x-cache']]).toEqual([200, 'MISS']);
    expect([second.status, second.headers['x-cache']]).toEqual([200, 'HIT']);

    // One client spends its budget: the counters that refuse it are on REDIS_URL.
    const statuses: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      const reply = await call(server.url, 'GET', path, { localAddress: '127.0.0.2' });
      statuses.push(reply.status);
    }
    expect(statuses.slice(0, MAX).every((status) => status === 200)).toBe(true);
    expect(statuses[MAX]).toBe(429);

    const cacheKeysOnCache = await onCache.keys('cache::*');
    expect(cacheKeysOnCache).toContain(`cache::document:${created.body.id}`);
    expect(await onCache.keys('throttle:*')).toEqual([]);
    expect((await onCounters.keys('throttle:*')).length).toBeGreaterThan(0);
    expect(await onCounters.keys('cache::*')).toEqual([]);
    // Nothing else on the cache instance: it may evict any key it holds.
    expect((await onCache.keys('*')).every((key) => key.startsWith('cache::'))).toBe(true);
  });

  it('reports both connections in the dependency checks and metrics', async () => {
    const dependencies = await fetch(`${server.url}/health/dependencies`);
    expect(dependencies.status).toBe(200);
    expect(await dependencies.json()).toMatchObject({
      details: {
        postgres: { status: 'up' },
        redis: { status: 'up' },
        redisCache: { status: 'up' },
      },
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^redis_connection_up\{connection="shared"\} 1$/m);
    expect(metrics).toMatch(/^redis_connection_up\{connection="cache"\} 1$/m);
    expect(metrics).toMatch(/^dependency_up\{dependency="redis"\} 1$/m);
    expect(metrics).toMatch(/^dependency_up\{dependency="redisCache"\} 1$/m);
    expect(await serviceConnections(onCounters)).toEqual(['docs-api']);
    expect(await serviceConnections(onCache)).toEqual(['docs-api-cache']);
  });

  it('stays ready without the cache instance, serves reads from PostgreSQL, recovers', async () => {
    const account = await signup(server.url);
    const session = await login(server.url, account);
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'outage', content: 'still readable', visibility: 'public' },
    });
    await cache.kill();

    const down = await waitForStatus(`${server.url}/health/dependencies`, 503);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      code: 'DEPENDENCY_DOWN',
      detail: 'Down: redisCache',
      checks: { redis: { status: 'up' }, redisCache: { status: 'down' } },
    });
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    const read = await call(server.url, 'GET', `/documents/${created.body.id}`);
    expect([read.status, read.headers['x-cache']]).toEqual([200, 'BYPASS']);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^redis_connection_up\{connection="cache"\} 0$/m);
    expect(metrics).toMatch(/^redis_connection_up\{connection="shared"\} 1$/m);
    expect(metrics).toMatch(/^dependency_up\{dependency="redisCache"\} 0$/m);

    await cache.restart();
    onCache.disconnect();
    onCache = new Redis(cache.url);
    expect((await waitForStatus(`${server.url}/health/dependencies`, 200)).status).toBe(200);
  }, 30_000);

  it('closes both connections at shutdown', async () => {
    await waitForStatus(`${server.url}/health/dependencies`, 200);
    expect(await serviceConnections(onCache)).toEqual(['docs-api-cache']);
    await server.close();
    expect(await serviceConnections(onCounters)).toEqual([]);
    expect(await serviceConnections(onCache)).toEqual([]);
  });
});
