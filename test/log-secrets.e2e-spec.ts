import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { login, signup, type Account } from './support/accounts.js';
import { call, sessionFrom } from './support/http.js';
import { ServerProcess } from './support/server-process.js';

/** Any bcrypt hash, known to the test or not (a hash made and refused inside the server). */
const BCRYPT_HASH = /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/;

/** A Buffer (a token hash among query parameters) as JSON.stringify writes it. */
const BUFFER_AS_JSON = /"type":\s*"Buffer"/;

/** Every spelling of a session token's SHA-256 that a log line could hold. */
function tokenHashSpellings(token: string): string[] {
  const digest = createHash('sha256').update(token).digest();
  return [
    digest.toString('hex'),
    digest.toString('base64'),
    digest.toString('base64url'),
    `\\\\x${digest.toString('hex')}`, // bytea as PostgreSQL writes it
    [...digest].join(','), // a Buffer through JSON.stringify
  ];
}

/**
 * One server at the most verbose level, driven through every route that handles a secret,
 * and a forced 500 from PostgreSQL whose query carries a bcrypt hash: no log line may hold
 * a password, a session token, a token hash or a bcrypt hash.
 */
describe('what the logs hold of secrets', () => {
  let server: ServerProcess;
  let db: pg.Client;
  const secrets = new Set<string>();
  const trigger = `refuse_password_change_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    server = await ServerProcess.start({
      env: { LOG_LEVEL: 'trace', BCRYPT_COST: '4', REDIS_URL: undefined },
    });
    db = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
  });

  afterAll(async () => {
    await db.query(`DROP FUNCTION IF EXISTS ${trigger}() CASCADE`);
    await db.end();
    await server.stop();
  });

  /** Keeps a session token, and its hashes, as secrets the logs must not hold. */
  function remember(token: string): string {
    secrets.add(token);
    for (const spelling of tokenHashSpellings(token)) secrets.add(spelling);
    return token;
  }

  async function rememberStoredHash(account: Account): Promise<void> {
    const { rows } = await db.query<{ password: string }>(
      'SELECT password FROM users WHERE user_id = $1',
      [account.userId],
    );
    secrets.add(rows[0].password);
  }

  /** Makes every change of this user's password, and every new session, fail in PostgreSQL. */
  async function refuseWrites(account: Account): Promise<void> {
    await db.query(`
      CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'writes are refused in this test'; END $$`);
    await db.query(`
      CREATE TRIGGER ${trigger} BEFORE UPDATE OF password ON users
      FOR EACH ROW WHEN (OLD.user_id = ${account.userId}) EXECUTE FUNCTION ${trigger}()`);
    await db.query(`
      CREATE TRIGGER ${trigger} BEFORE INSERT ON sessions
      FOR EACH ROW WHEN (NEW.user_id = ${account.userId}) EXECUTE FUNCTION ${trigger}()`);
  }

  it('holds no password, session token, token hash or bcrypt hash, 500s included', async () => {
    const url = server.url;
    const [first, second, third, wrong] = ['first', 'second', 'third', 'wrong'].map(
      (word) => `${word}-secret-${randomBytes(6).toString('hex')}`,
    );
    [first, second, third, wrong].forEach((password) => secrets.add(password));

    const account = await signup(url, first);
    await rememberStoredHash(account);
    const session = remember(await login(url, account));
    const other = remember(await login(url, account));
    const refused = await call(url, 'POST', '/auth/login', {
      body: { username: account.username, password: wrong },
    });
    expect(refused.status).toBe(401);
    expect((await call(url, 'GET', '/users/me', { session })).status).toBe(200);
    expect((await call(url, 'GET', '/auth/sessions?limit=1', { session })).status).toBe(200);
    const tampered = Buffer.from(JSON.stringify(['2026-02-31 10:00:00+00', other])).toString(
      'base64url',
    );
    expect((await call(url, 'GET', `/auth/sessions?cursor=${tampered}`, { session })).status).toBe(
      400,
    );

    const changed = await call(url, 'PUT', '/users/me/password', {
      session,
      body: { currentPassword: first, newPassword: second },
    });
    expect(changed.status).toBe(204);
    await rememberStoredHash(account);
    const renewed = await call(url, 'POST', '/auth/login', {
      body: { username: account.username, password: second },
    });
    expect(renewed.status).toBe(200);
    remember(sessionFrom(renewed));

    const created = await call(url, 'POST', '/documents', {
      session,
      body: { title: 'log check', content: '<p>hello</p>', contentType: 'text/html' },
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect((await call(url, 'GET', `/documents/${id}`, { session })).status).toBe(200);
    expect((await call(url, 'GET', `/documents/${id}/raw`, { session })).status).toBe(200);
    expect((await call(url, 'GET', '/documents?q=hello', { session })).status).toBe(200);
    const patched = await call(url, 'PATCH', `/documents/${id}`, {
      session,
      body: { visibility: 'public' },
    });
    expect(patched.status).toBe(200);
    expect((await call(url, 'DELETE', `/documents/${id}`, { session })).status).toBe(204);

    await refuseWrites(account);
    const failed = await call(url, 'PUT', '/users/me/password', {
      session,
      body: { currentPassword: second, newPassword: third },
    });
    expect(failed.status).toBe(500);
    expect(failed.text).not.toMatch(/writes are refused|UPDATE|\$2[aby]\$/);
    // The token of this session never reaches the test, only its hash the query: no value
    // of a bytea parameter, whatever its spelling, may reach the log.
    const unopened = await call(url, 'POST', '/auth/login', {
      body: { username: account.username, password: second },
    });
    expect(unopened.status).toBe(500);

    const deleted = await call(url, 'DELETE', '/users/me', {
      session,
      body: { password: second },
    });
    expect(deleted.status).toBe(204);
    expect((await call(url, 'POST', '/auth/logout', { session: other })).status).toBe(401);
    await sleep(200);

    const lines = [...server.stdout, ...server.stderr];
    const leaks = lines.flatMap((line, index) => [
      ...[...secrets].filter((secret) => line.includes(secret)).map(() => index),
      ...(BCRYPT_HASH.test(line) || BUFFER_AS_JSON.test(line) ? [index] : []),
    ]);
    expect([...new Set(leaks)].map((index) => lines[index])).toEqual([]);

    // The 500 still says what failed, for whoever reads the log.
    const failures = server.logs().filter((line) => line.context === 'ExceptionFilter');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({
      level: 'error',
      err: expect.objectContaining({
        type: 'QueryFailedError',
        code: 'P0001',
        query: expect.stringContaining('UPDATE users SET password'),
      }),
    });
    expect(failures[1]).toMatchObject({
      err: expect.objectContaining({ code: 'P0001', query: expect.stringContaining('sessions') }),
    });
    expect(lines.length).toBeGreaterThan(20);
  });
});
