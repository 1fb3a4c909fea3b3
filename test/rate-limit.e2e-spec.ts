import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from './support/app.js';
import { call } from './support/http.js';
import { TestRedis } from './support/redis-server.js';
import { ServerProcess } from './support/server-process.js';

const MAX = 5;

/** A Redis of the suite's own when redis-server is there (else counters live in memory). */
async function ownStore(): Promise<{ url: string; redis?: TestRedis }> {
  if (!TestRedis.available()) {
    process.stdout.write('rate-limit suite: redis-server not on PATH, counting in memory\n');
    return { url: '' };
  }
  const redis = await TestRedis.start();
  return { url: redis.url, redis };
}

describe('per-IP rate limiting', () => {
  let server: RunningApp;
  let store: { url: string; redis?: TestRedis };

  beforeAll(async () => {
    store = await ownStore();
    server = await startApp({
      env: { REDIS_URL: store.url, RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW_MS: '60000' },
    });
  });

  afterAll(async () => {
    await server.close();
    await store.redis?.kill();
  });

  it('counts down in the RateLimit headers, then answers 429 with Retry-After', async () => {
    const from = '127.0.1.1';
    for (let i = 1; i <= MAX; i++) {
      const reply = await call(server.url, 'GET', '/coffee', { localAddress: from });
      expect(reply.status).toBe(418);
      expect(reply.headers['ratelimit-policy']).toBe(`${MAX};w=60`);
      expect(reply.headers.ratelimit).toMatch(
        new RegExp(`^limit=${MAX}, remaining=${MAX - i}, reset=\\d+$`),
      );
    }
    const refused = await call(server.url, 'GET', '/coffee', { localAddress: from });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    expect((await call(server.url, 'GET', '/coffee', { localAddress: '127.0.1.2' })).status).toBe(
      418,
    );
  });

  it('applies to unknown routes and leaves health checks alone', async () => {
    const from = '127.0.1.3';
    for (let i = 0; i < MAX; i++)
      await call(server.url, 'GET', '/nothing-here', { localAddress: from });
    expect((await call(server.url, 'GET', '/nothing-here', { localAddress: from })).status).toBe(
      429,
    );
    const live = await call(server.url, 'GET', '/health/live', { localAddress: from });
    expect(live.status).toBe(200);
    expect(live.headers.ratelimit).toBeUndefined();
  });

  it('lists 429 in the contract on every operation but those it never limits, which it serves past the budget', async () => {
    const contract = JSON.parse(
      readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'),
    ) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const exempt = Object.entries(contract.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => !('429' in operation.responses))
        .map(([method]) => ({ method: method.toUpperCase(), path })),
    );
    expect(exempt.map(({ path }) => path).sort()).toEqual([
      '/health/dependencies',
      '/health/live',
      '/health/ready',
      '/metrics',
    ]);
    const from = '127.0.1.6';
    for (let i = 0; i <= MAX; i++) await call(server.url, 'GET', '/coffee', { localAddress: from });
    for (const { method, path } of exempt) {
      for (let i = 0; i <= MAX; i++) {
        const reply = await call(server.url, method, path, { localAddress: from });
        expect([path, reply.status]).not.toEqual([path, 429]);
      }
    }
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const from = '127.0.1.4';
    const statuses: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      const reply = await call(server.url, 'GET', '/coffee', {
        localAddress: from,
        headers: { 'x-forwarded-for': `198.51.100.${i}` },
      });
      statuses.push(reply.status);
    }
    expect(statuses).toEqual([...Array<number>(MAX).fill(418), 429]);
  });
});

describe('rate limiting behind a trusted proxy', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({
      env: { REDIS_URL: '', RATE_LIMIT_MAX: String(MAX), TRUST_PROXY: '127.0.0.1' },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('counts per forwarded client when the peer is trusted, and per peer otherwise', async () => {
    const viaProxy = (client: string) =>
      call(server.url, 'GET', '/coffee', {
        localAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': client },
      });
    for (let i = 0; i < MAX; i++) expect((await viaProxy('203.0.113.7')).status).toBe(418);
    expect((await viaProxy('203.0.113.7')).status).toBe(429);
    expect((await viaProxy('203.0.113.8')).status).toBe(418);

    const untrusted = (client: string) =>
      call(server.url, 'GET', '/coffee', {
        localAddress: '127.0.1.5',
        headers: { 'x-forwarded-for': client },
      });
    for (let i = 0; i < MAX; i++) await untrusted(`203.0.113.${20 + i}`);
    expect((await untrusted('203.0.113.99')).status).toBe(429);
  });
});

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available()) process.stdout.write('SKIP shared budget: redis-server not on PATH\n');

withRedis('one budget across replicas', () => {
  let redis: TestRedis;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  afterAll(async () => {
    await redis.kill();
  });

  it('adds up the requests that two server processes see', async () => {
    const env = { REDIS_URL: redis.url, RATE_LIMIT_MAX: '10' };
    servers.push(await ServerProcess.start({ env }), await ServerProcess.start({ env }));
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const server = servers[i % 2];
      statuses.push(
        (await call(server.url, 'GET', '/coffee', { localAddress: '127.0.1.6' })).status,
      );
    }
    expect(statuses.filter((status) => status === 418)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it('lets requests through while Redis is unreachable, and limits again when it returns', async () => {
    const server = await startApp({ env: { REDIS_URL: redis.url, RATE_LIMIT_MAX: '2' } });
    try {
      await redis.kill();
      for (let i = 0; i < 4; i++) {
        expect(
          (await call(server.url, 'GET', '/coffee', { localAddress: '127.0.1.7' })).status,
        ).toBe(418);
      }
      await redis.restart();
      const statuses: number[] = [];
      for (let i = 0; i < 50 && !statuses.includes(429); i++) {
        statuses.push(
          (await call(server.url, 'GET', '/coffee', { localAddress: '127.0.1.8' })).status,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(statuses).toContain(429);
    } finally {
      await server.close();
    }
  });
});
