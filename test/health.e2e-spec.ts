import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedPostgres } from '../src/common/database/embedded-postgres.js';
import { startApp, type RunningApp } from './support/app.js';
import { TestRedis } from './support/redis-server.js';

async function waitForStatus(url: string, status: number, timeoutMs = 10_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(url);
    if (response.status === status || Date.now() > deadline) return response;
    await sleep(100);
  }
}

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available()) {
  process.stdout.write('SKIP health with Redis: redis-server is not on PATH\n');
}

withRedis('readiness with Redis configured', () => {
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

  it('is ready while PostgreSQL and Redis answer', async () => {
    const response = await fetch(`${server.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ details: { redis: { status: 'up' } } });
  });

  it('turns 503 when Redis dies, stays alive, and recovers when Redis returns', async () => {
    await redis.kill();

    const notReady = await waitForStatus(`${server.url}/health/ready`, 503);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({
      status: 503,
      code: 'NOT_READY',
      checks: { redis: { status: 'down' }, database: { status: 'up' } },
    });
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);

    await redis.restart();
    const ready = await waitForStatus(`${server.url}/health/ready`, 200);
    expect(ready.status).toBe(200);
  });
});

describe('readiness with PostgreSQL down', () => {
  let postgres: EmbeddedPostgres;
  let server: RunningApp;

  beforeAll(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'docs-api-health-'));
    await chmod(dataDir, 0o755);
    postgres = new EmbeddedPostgres({ dataDir, database: 'health_test', ephemeral: true });
    server = await startApp({ env: { DATABASE_URL: await postgres.start(), REDIS_URL: '' } });
  });

  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await postgres?.stop();
  });

  it('answers 503 naming the database while the process stays alive', async () => {
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);

    await postgres.stop();

    const response = await waitForStatus(`${server.url}/health/ready`, 503);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      code: 'NOT_READY',
      checks: { database: { status: 'down' } },
    });
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
  });
});
