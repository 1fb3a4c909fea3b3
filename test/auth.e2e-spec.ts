import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SessionsService } from '../src/auth/sessions.service.js';
import { encodeCursor } from '../src/common/pagination/page.js';
import { login, PASSWORD, signup, uniqueName } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call } from './support/http.js';

/** Cursors no list made: [what is wrong, the cursor or the key to encode as one]. */
const TAMPERED_CURSORS: [string, string | string[]][] = [
  ['not base64url JSON', 'bm90LWEtY3Vyc29y'],
  ['one part', ['2026-12-01 10:00:00.123456+00']],
  ['a timestamp that is not one', ['yesterday noon', '3f2b8c1d-6a4e-4f0b-9c7d-2e1a5b8f9c0d']],
  ['a day that does not exist', ['2026-02-31 10:00:00+00', '3f2b8c1d-6a4e-4f0b-9c7d-2e1a5b8f9c0d']],
  ['an id that is not a UUID', ['2026-12-01 10:00:00.123456+00', 'not-a-uuid']],
  ['a time zone out of range', ['2026-12-01 10:00:00+99', '3f2b8c1d-6a4e-4f0b-9c7d-2e1a5b8f9c0d']],
];

describe('accounts and sessions', () => {
  let server: RunningApp;
  let db: pg.Client;
  let url: string;

  beforeAll(async () => {
    server = await startApp();
    url = server.url;
    db = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
  });

  afterAll(async () => {
    await db.end();
    await server.close();
  });

  describe('signup', () => {
    it('creates an account and answers 201 with the user, without signing in', async () => {
      const username = uniqueName();
      const reply = await call(url, 'POST', '/auth/signup', {
        body: { username, password: PASSWORD },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toEqual({
        userId: expect.any(Number),
        username,
        createdDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(reply.headers['set-cookie']).toBeUndefined();
    });

    it('answers 409 USERNAME_TAKEN for a name in use', async () => {
      const account = await signup(url);
      const reply = await call(url, 'POST', '/auth/signup', {
        body: { username: account.username, password: 'another password' },
      });
      expect(reply.status).toBe(409);
      expect(reply.body).toMatchObject({ status: 409, code: 'USERNAME_TAKEN' });
    });

    it('lets exactly one of 20 concurrent signups for one name win; the rest get 409', async () => {
      const username = uniqueName('race');
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(url, 'POST', '/auth/signup', { body: { username, password: `password ${i}` } }),
        ),
      );
      const statuses = replies.map((reply) => reply.status).sort();
      expect(statuses).toEqual([201, ...Array<number>(19).fill(409)]);
      const rows = await db.query('SELECT 1 FROM users WHERE username = $1', [username]);
      expect(rows.rowCount).toBe(1);
    });
    it('answers 409 USERNAME_TAKEN for a name in use in another case', async () => {
      const account = await signup(url);
      const reply = await call(url, 'POST', '/auth/signup', {
        body: { username: account.username.toUpperCase(), password: 'another password' },
      });
      expect(reply.status).toBe(409);
      expect(reply.body).toMatchObject({ status: 409, code: 'USERNAME_TAKEN' });
    });

    it('lets exactly one of 10 concurrent signups for one name in different cases win', async () => {
      const username = uniqueName('case');
      const spellings = Array.from({ length: 10 }, (_, i) =>
        [...username].map((c, j) => ((i >> (j % 4)) & 1 ? c.toUpperCase() : c)).join(''),
      );
      const replies = await Promise.all(
        spellings.map((name) =>
          call(url, 'POST', '/auth/signup', { body: { username: name, password: PASSWORD } }),
        ),
      );
      expect(replies.map((reply) => reply.status).sort()).toEqual([
        201,
        ...Array<number>(9).fill(409),
      ]);
      const rows = await db.query('SELECT 1 FROM users WHERE lower(username) = $1', [username]);
      expect(rows.rowCount).toBe(1);
    });
  });

  describe('login', () => {
    it('signs in whatever the case of the username, answering the name as it was chosen', async () => {
      const username = `Mixed_${randomBytes(4).toString('hex')}`;
      const created = await call(url, 'POST', '/auth/signup', {
        body: { username, password: PASSWORD },
      });
      expect(created.status).toBe(201);
      for (const spelling of [username, username.toLowerCase(), username.toUpperCase()]) {
        const reply = await call(url, 'POST', '/auth/login', {
          body: { username: spelling, password: PASSWORD },
        });
        expect(reply.status).toBe(200);
        expect(reply.body).toEqual({ userId: created.body.userId, username });
      }
    });

    it('answers 200 with the user and sets the session cookie with safe attributes', async () => {
      const account = await signup(url);
      const reply = await call(url, 'POST', '/auth/login', {
        body: { username: account.username, password: account.password },
      });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ userId: account.userId, username: account.username });
      const cookie = ([] as string[]).concat(reply.headers['set-cookie'] ?? [])[0];
      const [pair, ...attributes] = cookie.split('; ');
      expect(pair).toMatch(/^sid=[A-Za-z0-9_-]{43}$/);
      expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=604800', 'Path=/', 'SameSite=Lax']);
    });

    it('answers an unknown user and a wrong password with the same 401', async () => {
      const account = await signup(url);
      const wrong = await call(url, 'POST', '/auth/login', {
        body: { username: account.username, password: 'not the password' },
      });
      const unknown = await call(url, 'POST', '/auth/login', {
        body: { username: uniqueName('ghost'), password: 'not the password' },
      });
      const comparable = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(comparable(wrong.body)).toEqual(comparable(unknown.body));
      expect(wrong.body).toMatchObject({ code: 'INVALID_CREDENTIALS' });
      expect(Object.keys(wrong.headers).sort()).toEqual(Object.keys(unknown.headers).sort());
    });

    it('opens a new session on every login, and earlier ones keep working', async () => {
      const account = await signup(url);
      const laptop = await login(url, account, 'laptop');
      const phone = await login(url, account, 'phone');
      expect(laptop).not.toBe(phone);
      expect((await call(url, 'GET', '/users/me', { session: laptop })).status).toBe(200);
      expect((await call(url, 'GET', '/users/me', { session: phone })).status).toBe(200);

      const { rows } = await db.query<{ session_id: string }>(
        'SELECT session_id FROM users WHERE user_id = $1',
        [account.userId],
      );
      const listed = await call(url, 'GET', '/auth/sessions', { session: phone });
      const current = (listed.body.items as { id: string; current: boolean }[]).find(
        (s) => s.current,
      );
      expect(rows[0].session_id).toBe(current?.id);
    });

    it('upgrades a hash made at a lower cost on the next successful login', async () => {
      const account = await signup(url);
      const costOf = async () =>
        (
          await db.query<{ password: string }>('SELECT password FROM users WHERE user_id = $1', [
            account.userId,
          ])
        ).rows[0].password.split('$')[2];
      expect(await costOf()).toBe('04');

      const stronger = await startApp({ env: { BCRYPT_COST: '5' } });
      try {
        await login(stronger.url, account);
      } finally {
        await stronger.close();
      }
      expect(await costOf()).toBe('05');
      await login(url, account);
    });
  });

  describe('the session cookie', () => {
    it.each([
      ['no cookie', undefined],
      ['a malformed token', 'not-a-token'],
      ['an unknown token', randomBytes(32).toString('base64url')],
    ])('is required on protected routes: %s gets 401', async (_case, session) => {
      const reply = await call(url, 'GET', '/users/me', { session });
      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('is refused once its session has expired', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      await db.query(
        `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
        [account.userId],
      );
      expect((await call(url, 'GET', '/users/me', { session })).status).toBe(401);
    });

    it('leaves expired sessions to the background purge, which deletes them', async () => {
      const account = await signup(url);
      await login(url, account);
      await db.query(
        `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
        [account.userId],
      );
      expect(await server.app.get(SessionsService).purgeExpired()).toBeGreaterThanOrEqual(1);
      const left = await db.query('SELECT 1 FROM sessions WHERE user_id = $1', [account.userId]);
      expect(left.rowCount).toBe(0);
    });

    it('gets Secure when COOKIE_SECURE=true', async () => {
      const secure = await startApp({ env: { COOKIE_SECURE: 'true' } });
      try {
        const account = await signup(secure.url);
        const reply = await call(secure.url, 'POST', '/auth/login', {
          body: { username: account.username, password: account.password },
        });
        expect(String(reply.headers['set-cookie'])).toMatch(/; Secure(;|$)/);
      } finally {
        await secure.close();
      }
    });
  });

  describe('logout', () => {
    it('answers 204, clears the cookie, and the token stops working at once', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      const other = await login(url, account);

      const reply = await call(url, 'POST', '/auth/logout', { session });
      expect(reply.status).toBe(204);
      expect(String(reply.headers['set-cookie'])).toMatch(/^sid=; Max-Age=0/);
      expect((await call(url, 'GET', '/users/me', { session })).status).toBe(401);
      expect((await call(url, 'GET', '/users/me', { session: other })).status).toBe(200);
    });

    it('needs a session', async () => {
      expect((await call(url, 'POST', '/auth/logout')).status).toBe(401);
    });
  });

  describe('the session list', () => {
    it('lists the caller’s live sessions, newest first, marking the current one', async () => {
      const account = await signup(url);
      await login(url, account, 'first device');
      const current = await login(url, account, 'second device');

      const reply = await call(url, 'GET', '/auth/sessions', { session: current });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        items: [
          expect.objectContaining({ userAgent: 'second device', current: true, ip: '127.0.0.1' }),
          expect.objectContaining({ userAgent: 'first device', current: false }),
        ],
        nextCursor: null,
      });
      const [newest] = reply.body.items as Record<string, string>[];
      expect(Object.keys(newest).sort()).toEqual(
        ['createdAt', 'current', 'expiresAt', 'id', 'ip', 'lastSeenAt', 'userAgent'].sort(),
      );
      expect(JSON.stringify(reply.body)).not.toContain(current);
    });

    it('pages with limit and cursor, each session exactly once', async () => {
      const account = await signup(url);
      const tokens: string[] = [];
      for (let i = 0; i < 5; i++) tokens.push(await login(url, account, `device ${i}`));

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
        const page = await call(url, 'GET', `/auth/sessions${query}`, { session: tokens[0] });
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...(page.body.items as { userAgent: string }[]).map((s) => s.userAgent));
        cursor = page.body.nextCursor as string | null;
      } while (cursor);
      expect(seen).toEqual(['device 4', 'device 3', 'device 2', 'device 1', 'device 0']);
    });

    it.each([['?limit=0'], ['?limit=101'], ['?limit=ten'], ['?cursor=bm90LWEtY3Vyc29y']])(
      'answers 400 for %s',
      async (query) => {
        const account = await signup(url);
        const session = await login(url, account);
        const reply = await call(url, 'GET', `/auth/sessions${query}`, { session });
        expect(reply.status).toBe(400);
      },
    );

    it.each(TAMPERED_CURSORS)(
      'answers a tampered cursor (%s) with 400 INVALID_CURSOR on every list',
      async (_what, key) => {
        const account = await signup(url);
        const session = await login(url, account);
        const cursor = typeof key === 'string' ? key : encodeCursor(key);
        for (const list of ['/auth/sessions', '/documents']) {
          const reply = await call(url, 'GET', `${list}?cursor=${encodeURIComponent(cursor)}`, {
            session,
          });
          expect({ list, status: reply.status, code: reply.body?.code }).toEqual({
            list,
            status: 400,
            code: 'INVALID_CURSOR',
          });
        }
      },
    );

    it('DELETE /auth/sessions logs out everywhere', async () => {
      const account = await signup(url);
      const one = await login(url, account);
      const two = await login(url, account);
      const reply = await call(url, 'DELETE', '/auth/sessions', { session: one });
      expect(reply.status).toBe(204);
      expect((await call(url, 'GET', '/users/me', { session: one })).status).toBe(401);
      expect((await call(url, 'GET', '/users/me', { session: two })).status).toBe(401);
    });
  });

  describe('the signed-in user', () => {
    it('GET /users/me answers the caller', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      const reply = await call(url, 'GET', '/users/me', { session });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        userId: account.userId,
        username: account.username,
        createdDate: expect.any(String),
      });
    });

    it('changing the password ends every other session and keeps this one', async () => {
      const account = await signup(url);
      const here = await login(url, account);
      const elsewhere = await login(url, account);

      const reply = await call(url, 'PUT', '/users/me/password', {
        session: here,
        body: { currentPassword: account.password, newPassword: 'a brand new password' },
      });
      expect(reply.status).toBe(204);
      expect((await call(url, 'GET', '/users/me', { session: elsewhere })).status).toBe(401);
      expect((await call(url, 'GET', '/users/me', { session: here })).status).toBe(200);
      await expect(login(url, account)).rejects.toThrow(/401/);
      await login(url, { ...account, password: 'a brand new password' });
    });

    it('refuses a password change with a wrong current password, changing nothing', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      const reply = await call(url, 'PUT', '/users/me/password', {
        session,
        body: { currentPassword: 'not my password', newPassword: 'a brand new password' },
      });
      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({ code: 'INVALID_CREDENTIALS' });
      expect((await call(url, 'GET', '/users/me', { session })).status).toBe(200);
      await login(url, account);
    });

    it('deleting the account removes the user and their sessions, after the password', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      const other = await login(url, account);

      const refused = await call(url, 'DELETE', '/users/me', {
        session,
        body: { password: 'not my password' },
      });
      expect(refused.status).toBe(401);

      const reply = await call(url, 'DELETE', '/users/me', {
        session,
        body: { password: account.password },
      });
      expect(reply.status).toBe(204);
      expect(String(reply.headers['set-cookie'])).toMatch(/^sid=; Max-Age=0/);
      expect((await call(url, 'GET', '/users/me', { session })).status).toBe(401);
      expect((await call(url, 'GET', '/users/me', { session: other })).status).toBe(401);
      await expect(login(url, account)).rejects.toThrow(/401/);
      const left = await db.query('SELECT 1 FROM sessions WHERE user_id = $1', [account.userId]);
      expect(left.rowCount).toBe(0);
    });

    it('needs a session for every /users/me route', async () => {
      expect((await call(url, 'GET', '/users/me')).status).toBe(401);
      expect(
        (
          await call(url, 'PUT', '/users/me/password', {
            body: { currentPassword: 'x', newPassword: 'yyyyyyyy' },
          })
        ).status,
      ).toBe(401);
      expect((await call(url, 'DELETE', '/users/me', { body: { password: 'x' } })).status).toBe(
        401,
      );
    });
  });

  it('never stores a plaintext password or a raw session token', async () => {
    const account = await signup(url, 'plaintext-canary-password');
    const session = await login(url, account);
    const users = await db.query<{ row: string }>(
      'SELECT row_to_json(u)::text AS row FROM users u WHERE user_id = $1',
      [account.userId],
    );
    const sessions = await db.query<{ row: string; token_hash: Buffer }>(
      'SELECT row_to_json(s)::text AS row, token_hash FROM sessions s WHERE user_id = $1',
      [account.userId],
    );
    const stored = [...users.rows, ...sessions.rows].map((r) => r.row).join('\n');
    expect(stored).not.toContain('plaintext-canary-password');
    expect(stored).not.toContain(session);
    expect(stored).not.toContain(Buffer.from(session, 'base64url').toString('hex'));
    expect(users.rows[0].row).toMatch(/"password":"\$2b\$04\$/);
    expect(sessions.rows[0].token_hash).toHaveLength(32);
  });
});
