import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { signup, uniqueName, type Account } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call, sessionFrom, type Reply } from './support/http.js';
import { TestRedis } from './support/redis-server.js';

const MAX = 10;
const ATTACKERS = 50;
const ATTEMPTS_EACH = 20;

/** The device cookie a successful login set, as a `Cookie` header pair. */
function deviceCookie(reply: Reply): string {
  const cookies = ([] as string[]).concat(reply.headers['set-cookie'] ?? []);
  const device = cookies.find((cookie) => cookie.startsWith('did='));
  if (!device) throw new Error(`no device cookie in ${reply.status} ${reply.text}`);
  return device.split(';')[0];
}

describe('sign-in limits that stop attackers without locking the owner out', () => {
  let server: RunningApp;
  let redis: TestRedis | undefined;

  beforeAll(async () => {
    redis = TestRedis.available() ? await TestRedis.start() : undefined;
    if (!redis) process.stdout.write('sign-in limits suite: no redis-server, counting in memory\n');
    server = await startApp({
      env: {
        REDIS_URL: redis?.url ?? '',
        LOGIN_RATE_LIMIT_MAX: String(MAX),
        RATE_LIMIT_MAX: '100000',
        RATE_LIMIT_WINDOW_MS: '60000',
      },
    });
  });

  afterAll(async () => {
    await server.close();
    await redis?.kill();
  });

  const login = (account: Account, from: string, password: string, cookie?: string) =>
    call(server.url, 'POST', '/auth/login', {
      body: { username: account.username, password },
      localAddress: from,
      headers: cookie ? { cookie } : {},
    });

  it('1,000 wrong passwords from 50 addresses neither stop the owner signing in from a known device nor changing her password', async () => {
    const alice = await signup(server.url);
    const first = await login(alice, '127.0.5.1', alice.password);
    expect(first.status).toBe(200);
    const device = deviceCookie(first);
    const session = sessionFrom(first);

    const attackers = Array.from({ length: ATTACKERS }, (_, i) => `127.0.6.${i + 1}`);
    const statuses = await Promise.all(
      attackers.map(async (from) => {
        const seen: number[] = [];
        for (let i = 0; i < ATTEMPTS_EACH; i++) {
          seen.push((await login(alice, from, `wrong password ${i}`)).status);
        }
        return seen;
      }),
    );
    for (const seen of statuses) {
      expect(seen.every((status) => status === 401 || status === 429)).toBe(true);
      // each address is refused past its own budget, whatever the others did
      expect(seen.slice(MAX)).toEqual(Array<number>(ATTEMPTS_EACH - MAX).fill(429));
    }
    // the account's public budget is spent: a client never seen before is refused
    expect((await login(alice, '127.0.5.2', alice.password)).status).toBe(429);

    const again = await login(alice, '127.0.5.1', alice.password, device);
    expect(again.status).toBe(200);
    const changed = await call(server.url, 'PUT', '/users/me/password', {
      session,
      localAddress: '127.0.5.1',
      body: { currentPassword: alice.password, newPassword: 'a brand new passphrase' },
    });
    expect(changed.status).toBe(204);
  });

  it('does not let a device cookie of one account past the lock of another', async () => {
    const mallory = await signup(server.url);
    const known = await login(mallory, '127.0.5.3', mallory.password);
    const device = deviceCookie(known);
    const victim = await signup(server.url);
    for (let i = 0; i < MAX; i++) await login(victim, `127.0.7.${i + 1}`, 'wrong password');
    const refused = await login(victim, '127.0.5.3', victim.password, device);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
  });

  it('counts wrong passwords on a signed-in route against the session, never the public per-username budget', async () => {
    const bob = await signup(server.url);
    const session = sessionFrom(await login(bob, '127.0.5.4', bob.password));
    const statuses: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      const reply = await call(server.url, 'PUT', '/users/me/password', {
        session,
        localAddress: `127.0.8.${i + 1}`,
        body: { currentPassword: `wrong password ${i}`, newPassword: 'a brand new passphrase' },
      });
      statuses.push(reply.status);
    }
    expect(statuses).toEqual([...Array<number>(MAX).fill(401), 429]);
    const deleted = await call(server.url, 'DELETE', '/users/me', {
      session,
      localAddress: '127.0.5.4',
      body: { password: bob.password },
    });
    expect(deleted.status).toBe(429);
    // a fresh login from a new client is not affected
    expect((await login(bob, '127.0.5.5', bob.password)).status).toBe(200);
  });

  it('refuses a flood before the session lookup: 429 rather than 401 past the budget', async () => {
    const flood = await startApp({ env: { REDIS_URL: '', RATE_LIMIT_MAX: '2' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const reply = await call(flood.url, 'GET', '/users/me', {
          session: 'not-a-session',
          localAddress: '127.0.5.6',
        });
        statuses.push(reply.status);
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await flood.close();
    }
  });
});

describe('IPv6 clients', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({
      env: { REDIS_URL: '', RATE_LIMIT_MAX: '3', TRUST_PROXY: '127.0.0.1' },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  const from = (client: string) =>
    call(server.url, 'GET', '/coffee', {
      localAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': client },
    });

  it('are counted per /64: every address of one network shares a budget', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 4; i++) statuses.push((await from(`2001:db8:a:b::${i}`)).status);
    expect(statuses).toEqual([418, 418, 418, 429]);
    expect((await from('2001:db8:a:b:ffff:1:2:3')).status).toBe(429);
    expect((await from('2001:db8:a:c::1')).status).toBe(418);
  });
});

describe('usernames in the sign-in budget', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ env: { REDIS_URL: '', LOGIN_RATE_LIMIT_MAX: '2' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('counts one budget per username whatever its case', async () => {
    const name = uniqueName('case');
    const attempt = (username: string, from: string) =>
      call(server.url, 'POST', '/auth/login', {
        body: { username, password: 'wrong password' },
        localAddress: from,
      });
    expect((await attempt(name, '127.0.9.1')).status).toBe(401);
    expect((await attempt(name.toUpperCase(), '127.0.9.2')).status).toBe(401);
    expect((await attempt(name, '127.0.9.3')).status).toBe(429);
  });
});
