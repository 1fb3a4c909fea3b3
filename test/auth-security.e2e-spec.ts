import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { login, PASSWORD, signup, uniqueName } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call } from './support/http.js';
import { TestRedis } from './support/redis-server.js';
import { ServerProcess } from './support/server-process.js';

describe('input validation at the edge', () => {
  let server: RunningApp;
  let db: pg.Client;

  beforeAll(async () => {
    server = await startApp();
    db = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
  });

  afterAll(async () => {
    await db.end();
    await server.close();
  });

  type Case = [string, (name: string) => Record<string, unknown>, string];
  it.each<Case>([
    ['a missing password', (name) => ({ username: name }), 'password'],
    ['a missing username', () => ({ password: PASSWORD }), 'username'],
    ['a username of the wrong type', () => ({ username: 42, password: PASSWORD }), 'username'],
    ['a password of the wrong type', (name) => ({ username: name, password: ['x'] }), 'password'],
    ['a short username', () => ({ username: 'ab', password: PASSWORD }), 'username'],
    [
      'a long username',
      (name) => ({ username: name.padEnd(51, 'x'), password: PASSWORD }),
      'username',
    ],
    [
      'a username with a space',
      (name) => ({ username: `${name} x`, password: PASSWORD }),
      'username',
    ],
    ['a 7-byte password', (name) => ({ username: name, password: 'seven77' }), 'password'],
    ['a 74-byte password', (name) => ({ username: name, password: 'é'.repeat(37) }), 'password'],
    ['an unknown field', (name) => ({ username: name, password: PASSWORD, admin: true }), 'admin'],
  ])('signup answers 400 naming the field for %s, and creates nothing', async (_c, body, field) => {
    const name = uniqueName();
    const reply = await call(server.url, 'POST', '/auth/signup', { body: body(name) });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((reply.body.errors as string[]).some((error) => error.includes(field))).toBe(true);
    const created = await db.query('SELECT 1 FROM users WHERE username LIKE $1', [`${name}%`]);
    expect(created.rowCount).toBe(0);
  });

  it('accepts a password of exactly 72 bytes', async () => {
    const reply = await call(server.url, 'POST', '/auth/signup', {
      body: { username: uniqueName(), password: 'é'.repeat(36) },
    });
    expect(reply.status).toBe(201);
  });

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const reply = await call(server.url, 'POST', '/auth/login', { rawBody: '{"username": "x",' });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'MALFORMED_JSON' });
  });

  it('answers an empty JSON body with 400', async () => {
    const reply = await call(server.url, 'POST', '/auth/login', {
      rawBody: '',
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(reply.status).toBe(400);
  });

  it('refuses a document whose title or content holds U+0000 with 400, not a 500', async () => {
    const session = await login(server.url, await signup(server.url));
    for (const body of [
      { title: 'nul\u0000', content: 'c' },
      { title: 't', content: 'a\u0000b' },
    ]) {
      const reply = await call(server.url, 'POST', '/documents', { session, body });
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });

  it('answers a deeply nested JSON body with 400, not a 500', async () => {
    const rawBody = '['.repeat(100_000) + ']'.repeat(100_000);
    // A route that takes large bodies: sign-up refuses this size with 413 before parsing.
    const session = await login(server.url, await signup(server.url));
    const reply = await call(server.url, 'POST', '/documents', { session, rawBody });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'MALFORMED_JSON' });
  });

  it('answers a URL that is not valid UTF-8 with 400 problem details', async () => {
    const reply = await call(server.url, 'GET', '/documents/%c0%ae%c0%ae');
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.body).toMatchObject({ code: 'MALFORMED_URL', status: 400 });
  });

  it('answers an overlong id as a malformed one', async () => {
    const reply = await call(server.url, 'GET', `/documents/${'a'.repeat(5_000)}`);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'INVALID_ID' });
  });

  it('answers 405 to a method the path does not take, whatever its body or Origin', async () => {
    const reply = await call(server.url, 'PATCH', '/health/live', {
      rawBody: 'not json',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
    });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD');
  });
});

describe('cross-site request forgery', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ env: { CORS_ORIGINS: 'https://app.example.com' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it.each([
    ['a form', 'application/x-www-form-urlencoded', 'username=someone&password=whatever1'],
    ['plain text', 'text/plain', '{"username":"someone","password":"whatever1"}'],
    ['multipart', 'multipart/form-data; boundary=x', '--x--'],
  ])('refuses %s body with 415', async (_case, contentType, rawBody) => {
    const reply = await call(server.url, 'POST', '/auth/login', {
      rawBody,
      headers: { 'content-type': contentType },
    });
    expect(reply.status).toBe(415);
    expect(reply.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('refuses a state-changing request from a foreign origin with 403, changing nothing', async () => {
    const account = await signup(server.url);
    const session = await login(server.url, account);
    const reply = await call(server.url, 'DELETE', '/auth/sessions', {
      session,
      headers: { origin: 'https://evil.example' },
    });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject({ code: 'CROSS_SITE_REQUEST' });
    expect((await call(server.url, 'GET', '/users/me', { session })).status).toBe(200);
  });

  it('accepts its own origin and the origins in CORS_ORIGINS', async () => {
    const account = await signup(server.url);
    const own = await call(server.url, 'POST', '/auth/login', {
      body: { username: account.username, password: account.password },
      headers: { origin: server.url },
    });
    expect(own.status).toBe(200);
    const listed = await call(server.url, 'POST', '/auth/login', {
      body: { username: account.username, password: account.password },
      headers: { origin: 'https://app.example.com' },
    });
    expect(listed.status).toBe(200);
  });

  it('answers CORS preflights for the origins in CORS_ORIGINS only', async () => {
    const preflight = (origin: string) =>
      call(server.url, 'OPTIONS', '/auth/sessions', {
        headers: {
          origin,
          'access-control-request-method': 'DELETE',
          'access-control-request-headers': 'content-type',
        },
      });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    expect(String(allowed.headers['access-control-allow-methods'])).toContain('DELETE');

    const foreign = await preflight('https://evil.example');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();

    const read = await call(server.url, 'GET', '/health/live', {
      headers: { origin: 'https://app.example.com' },
    });
    expect(read.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('leaves reads from any origin alone', async () => {
    const reply = await call(server.url, 'GET', '/health/live', {
      headers: { origin: 'https://evil.example' },
    });
    expect(reply.status).toBe(200);
  });
});

/** The rate-limit store: a Redis of the suite's own when redis-server is there, else memory. */
async function limiterStore(): Promise<{
  env: Record<string, string>;
  redis?: TestRedis;
  stop(): Promise<void>;
}> {
  if (!TestRedis.available()) {
    process.stdout.write('brute-force suite: redis-server not on PATH, counting in memory\n');
    return { env: { REDIS_URL: '' }, stop: () => Promise.resolve() };
  }
  const redis = await TestRedis.start();
  return { env: { REDIS_URL: redis.url }, redis, stop: () => redis.kill() };
}

describe('brute-force protection', () => {
  const MAX = 3;
  let server: RunningApp;
  let store: Awaited<ReturnType<typeof limiterStore>>;

  beforeAll(async () => {
    store = await limiterStore();
    server = await startApp({
      env: { ...store.env, LOGIN_RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW_MS: '60000' },
    });
  });

  afterAll(async () => {
    await server.close();
    await store.stop();
  });

  const attempt = (username: string, from: string, password = 'wrong password') =>
    call(server.url, 'POST', '/auth/login', {
      body: { username, password },
      localAddress: from,
    });

  it('limits login attempts per username, whatever the client address', async () => {
    const username = uniqueName('target');
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      expect((await attempt(username, from)).status).toBe(401);
    }
    const refused = await attempt(username, '127.0.0.5');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ status: 429, code: 'TOO_MANY_ATTEMPTS' });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    expect((await attempt(uniqueName('bystander'), '127.0.0.5')).status).toBe(401);
  });

  it('limits login attempts per client address, whatever the username', async () => {
    for (let i = 0; i < MAX; i++) {
      expect((await attempt(uniqueName('spray'), '127.0.0.6')).status).toBe(401);
    }
    const refused = await attempt(uniqueName('spray'), '127.0.0.6');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await attempt(uniqueName('spray'), '127.0.0.7')).status).toBe(401);
  });

  it('refuses even the right password once the budget is spent', async () => {
    const account = await signup(server.url);
    for (let i = 0; i < MAX; i++) await attempt(account.username, '127.0.0.8');
    expect((await attempt(account.username, '127.0.0.9', account.password)).status).toBe(429);
  });

  it('limits signups per client address', async () => {
    const signupFrom = (from: string) =>
      call(server.url, 'POST', '/auth/signup', {
        body: { username: uniqueName('bulk'), password: PASSWORD },
        localAddress: from,
      });
    for (let i = 0; i < MAX; i++) expect((await signupFrom('127.0.0.10')).status).toBe(201);
    const refused = await signupFrom('127.0.0.10');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('lets attempts through, rather than failing, while Redis is unreachable', async () => {
    if (!store.redis) {
      process.stdout.write('SKIP limiter outage: no Redis of its own to stop\n');
      return;
    }
    const account = await signup(server.url);
    await store.redis.kill();
    for (let i = 0; i <= MAX; i++) {
      expect((await attempt(account.username, '127.0.0.11')).status).toBe(401);
    }
    expect((await attempt(account.username, '127.0.0.11', account.password)).status).toBe(200);
  });
});

describe('what the logs say about sign-in', () => {
  let server: ServerProcess | undefined;

  afterEach(async () => {
    await server?.stop();
  });

  it('records success, failure and lockout with user or name and IP, never a password or token', async () => {
    server = await ServerProcess.start({
      env: { BCRYPT_COST: '4', LOGIN_RATE_LIMIT_MAX: '5', REDIS_URL: undefined },
    });
    const password = 'log-canary-password';
    const account = await signup(server.url, password);
    const token = await login(server.url, account);
    await call(server.url, 'GET', '/users/me', { session: token });
    await call(server.url, 'PUT', '/users/me/password', {
      session: token,
      body: { currentPassword: password, newPassword: 'log-canary-password-2' },
    });
    // signup, login and the password change spent 3 of the 5 attempts of this address
    expect((await attempt(server.url, account.username, 'log-canary-wrong')).status).toBe(401);
    expect((await attempt(server.url, account.username, 'log-canary-wrong')).status).toBe(401);
    expect((await attempt(server.url, account.username, 'log-canary-wrong')).status).toBe(429);
    await sleep(200);

    const output = server.stdout.join('\n');
    expect(output).not.toContain('log-canary');
    expect(output).not.toContain(token);
    const events = server
      .logs()
      .filter((line) => line.context === 'AuthService' || line.context === 'ClientThrottlerGuard');
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          msg: 'Login succeeded',
          userId: account.userId,
          ip: '127.0.0.1',
        }),
        expect.objectContaining({
          msg: 'Login failed',
          username: account.username,
          ip: '127.0.0.1',
        }),
        expect.objectContaining({
          msg: 'Too many sign-in attempts: refused',
          username: account.username,
          ip: '127.0.0.1',
        }),
      ]),
    );
  });

  const attempt = (url: string, username: string, password: string) =>
    call(url, 'POST', '/auth/login', { body: { username, password } });
});
