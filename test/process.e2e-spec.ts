import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/net/free-port.js';
import { ServerProcess } from './support/server-process.js';

const FIXTURE = 'test/fixtures/server-with-test-routes.mjs';

async function waitForHttp(url: string, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe('the server process', () => {
  const started: ServerProcess[] = [];
  const track = (server: ServerProcess): ServerProcess => (started.push(server), server);

  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
  });

  it('lets a slow request finish on SIGTERM and exits 0', async () => {
    const server = track(await ServerProcess.start({ script: FIXTURE }));
    const slow = fetch(`${server.url}/test/slow?ms=2000`);
    await sleep(300);

    server.signal('SIGTERM');

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sleptMs: 2000 });
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('exits at once on a second signal', async () => {
    const server = track(await ServerProcess.start({ env: { SHUTDOWN_DELAY_MS: '30000' } }));
    server.signal('SIGTERM');
    await sleep(300);
    const signalledAt = Date.now();

    server.signal('SIGINT');

    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
  });

  it('refuses to start on an invalid variable, in one line that names it', async () => {
    const server = track(await ServerProcess.spawn({ env: { SHUTDOWN_TIMEOUT_MS: 'soon' } }));
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toEqual([expect.stringContaining('SHUTDOWN_TIMEOUT_MS')]);
    expect(server.stdout).toEqual([]);
  });

  it('never echoes a rejected DATABASE_URL, which may hold a password', async () => {
    const server = track(
      await ServerProcess.spawn({ env: { DATABASE_URL: 'mysql://app:hunter2secret@db/app' } }),
    );
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toEqual([expect.stringContaining('DATABASE_URL')]);
    expect(server.stderr.join('\n')).not.toContain('hunter2secret');
  });

  it('says in one line that DATABASE_URL is required when there is no embedded PostgreSQL', async () => {
    const server = track(
      await ServerProcess.spawn({
        script: 'test/fixtures/main-without-embedded-postgres.mjs',
        env: { DATABASE_URL: undefined },
      }),
    );
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toEqual([expect.stringMatching(/^DATABASE_URL is required/)]);
    expect(server.stdout).toEqual([]);
  });

  it('listens on the port given as the first argument rather than PORT', async () => {
    const server = track(await ServerProcess.start({ portAsArgument: true }));
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
  });

  it('logs one JSON line per request, with its route, status, duration and id, and no secrets', async () => {
    const server = track(await ServerProcess.start());
    await fetch(`${server.url}/coffee`, {
      headers: {
        cookie: 'session=cookie-secret-value',
        authorization: 'Bearer token-secret-value',
        'x-request-id': 'log-line-test',
      },
    });
    await fetch(`${server.url}/no-such-route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'someone', password: 'password-secret-value' }),
    });
    // A line the app logs while handling a request with a body carries that request's id.
    await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'login-line-test' },
      body: JSON.stringify({
        username: `nobody-${Date.now()}`,
        password: 'password-secret-value',
      }),
    });
    await sleep(200);

    expect(server.logs()).toContainEqual(
      expect.objectContaining({ reqId: 'login-line-test', msg: 'Login failed' }),
    );
    const lines = server.logs().filter((line) => line.reqId === 'log-line-test');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        route: '/coffee',
        req: expect.objectContaining({ method: 'GET', url: '/coffee', id: 'log-line-test' }),
        res: { statusCode: 418 },
        responseTime: expect.any(Number),
      }),
    ]);
    expect(server.stdout.join('\n')).not.toMatch(/secret-value/);
  });

  it('logs the stack of an unexpected error under the request id, and keeps it from the client', async () => {
    const server = track(await ServerProcess.start({ script: FIXTURE }));
    const response = await fetch(`${server.url}/test/fail`, {
      headers: { 'x-request-id': 'failing-request' },
    });
    expect(response.status).toBe(500);
    expect(await response.text()).not.toMatch(/internal_table|db-7|at /);
    await sleep(200);

    const lines = server.logs().filter((line) => JSON.stringify(line).includes('failing-request'));
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        reqId: 'failing-request',
        msg: expect.stringMatching(/internal_table[\s\S]*\n\s+at /),
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', res: { statusCode: 500 }, route: '/test/fail' }),
    );
  });

  it('reads .env from its working directory, under the real environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'docs-api-env-'));
    try {
      const port = await freePort();
      await writeFile(join(dir, '.env'), `PORT=${port}\nLOG_LEVEL=debug\n`);
      const server = track(
        await ServerProcess.spawn({
          script: resolve('dist/main.js'),
          cwd: dir,
          env: { PORT: undefined, LOG_LEVEL: 'warn' },
        }),
      );
      await waitForHttp(`http://127.0.0.1:${port}/health/live`);
      expect(server.logs().map((line) => line.level)).not.toContain('info');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts, is ready and stays up while Redis is unreachable, reporting it down', async () => {
    const deadPort = await freePort();
    const server = track(
      await ServerProcess.start({ env: { REDIS_URL: `redis://127.0.0.1:${deadPort}` } }),
    );
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    const dependencies = await fetch(`${server.url}/health/dependencies`);
    expect(dependencies.status).toBe(503);
    expect(await dependencies.json()).toMatchObject({ checks: { redis: { status: 'down' } } });
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    await sleep(500);
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
  });
});

describe('the zero-setup start', () => {
  it('runs an embedded PostgreSQL that keeps its data across restarts and stops with the server', async () => {
    // A private folder, as a checkout under a mode-700 home would be: the cluster has to
    // live elsewhere, and says where.
    const privateDir = await mkdtemp(join(tmpdir(), 'docs-api-zero-'));
    await chmod(privateDir, 0o700);
    const env = {
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      DATA_DIR: join(privateDir, 'data'),
    };
    let clusterDir: string | undefined;
    try {
      const first = await ServerProcess.start({ env });
      expect((await fetch(`${first.url}/health/ready`)).status).toBe(200);
      first.signal('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });

      const messages = first.logs().map((line) => String(line.msg));
      expect(messages.filter((m) => m.includes('REDIS_URL is not set'))).toHaveLength(1);
      expect(messages).toContainEqual(expect.stringContaining('Creating the embedded PostgreSQL'));
      expect(messages).toContain('Embedded PostgreSQL stopped');
      clusterDir = /data in (\S+)\)/.exec(
        messages.find((m) => m.includes('listening on')) ?? '',
      )?.[1];
      expect(clusterDir).toBeDefined();
      expect(existsSync(join(clusterDir!, 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(clusterDir!, 'postmaster.pid'))).toBe(false);

      const second = await ServerProcess.start({ env });
      expect((await fetch(`${second.url}/health/ready`)).status).toBe(200);
      second.signal('SIGTERM');
      expect(await second.exited).toEqual({ code: 0, signal: null });
      const again = second.logs().map((line) => String(line.msg));
      expect(again).not.toContainEqual(expect.stringContaining('Creating the embedded PostgreSQL'));
      expect(again).toContainEqual(expect.stringContaining(`data in ${clusterDir}`));
    } finally {
      await rm(privateDir, { recursive: true, force: true });
      if (clusterDir) await rm(join(clusterDir, '..'), { recursive: true, force: true });
    }
  });

  it('takes over the cluster that a killed server left running', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'docs-api-kill-'));
    await chmod(dataDir, 0o755);
    const env = { DATABASE_URL: undefined, REDIS_URL: undefined, DATA_DIR: dataDir };
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    try {
      const killed = await ServerProcess.start({ env });
      expect((await fetch(`${killed.url}/health/ready`)).status).toBe(200);
      killed.signal('SIGKILL');
      await killed.exited;
      const orphan = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
      expect(() => process.kill(orphan, 0)).not.toThrow();

      const next = await ServerProcess.start({ env });
      expect((await fetch(`${next.url}/health/ready`)).status).toBe(200);
      next.signal('SIGTERM');
      expect(await next.exited).toEqual({ code: 0, signal: null });
      expect(() => process.kill(orphan, 0)).toThrow();
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
