import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { MIGRATION_LOCK_KEY } from '../src/common/database/typeorm-options.js';
import { call, sessionFrom } from './support/http.js';
import {
  MIGRATIONS,
  query,
  ScratchDatabases,
  SEED_USERS_TABLE,
} from './support/scratch-databases.js';
import { ServerProcess, type Exit, type SpawnOptions } from './support/server-process.js';

type LogLine = Record<string, unknown>;

const message = (line: LogLine): string => String(line.msg);

/** Waits until the process has logged a line that `matches`, and returns it. */
async function logged(
  server: ServerProcess,
  matches: (line: LogLine) => boolean,
  timeoutMs = 20_000,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (;;) {
    const line = server.logs().find(matches);
    if (line) return line;
    if (exited || Date.now() > deadline) {
      throw new Error(
        `no such line; output:\n${server.stdout.join('\n')}\n${server.stderr.join('\n')}`,
      );
    }
    await sleep(50);
  }
}

/** How the process ended, or 'still running' once `timeoutMs` have passed. */
function exitOf(server: ServerProcess, timeoutMs = 20_000): Promise<Exit | 'still running'> {
  return Promise.race([server.exited, sleep(timeoutMs, 'still running' as const, { ref: false })]);
}

const waiting = (line: LogLine) => /^Waiting for the migration lock/.test(message(line));
const applied = (server: ServerProcess) =>
  server
    .logs()
    .map(message)
    .filter((text) => text.startsWith('Applied migration '))
    .map((text) => text.slice('Applied migration '.length));

/** A session of the test's own that holds the migration lock until it ends. */
async function holdMigrationLock(url: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: url, application_name: 'lock-holder-test' });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>(
    'SELECT pg_backend_pid() AS pid, pg_advisory_lock($1)',
    [MIGRATION_LOCK_KEY],
  );
  return { client, pid: rows[0].pid };
}

async function tableExists(url: string, table: string): Promise<boolean> {
  const [row] = await query<{ present: boolean }>(
    url,
    `SELECT to_regclass('${table}') IS NOT NULL AS present`,
  );
  return row.present;
}

async function appliedInDatabase(url: string): Promise<string[]> {
  const rows = await query<{ name: string }>(url, 'SELECT name FROM migrations ORDER BY id');
  return rows.map((row) => row.name);
}

async function migrationLockHeld(url: string): Promise<boolean> {
  const [row] = await query<{ held: boolean }>(
    url,
    `SELECT count(*) > 0 AS held FROM pg_locks
     WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return row.held;
}

/** A TCP server that accepts connections and never says a word: a database that hangs. */
async function blackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Every line of stdout is a JSON object: nothing that a log collector would split. */
function expectOnlyJsonLines(server: ServerProcess): void {
  for (const line of server.stdout) expect(() => JSON.parse(line) as unknown).not.toThrow();
  expect(server.stderr).toEqual([]);
}

describe('start-up and migrations', () => {
  const scratch = new ScratchDatabases();
  const started: ServerProcess[] = [];
  const clients: pg.Client[] = [];

  const spawn = async (url: string, options: SpawnOptions = {}): Promise<ServerProcess> => {
    const server = await ServerProcess.spawn({
      ...options,
      env: { DATABASE_URL: url, ...options.env },
    });
    started.push(server);
    return server;
  };
  const migrate = (url: string, env: Record<string, string> = {}) =>
    spawn(url, { args: ['migrate'], env });
  const track = <T extends pg.Client>(client: T): T => (clients.push(client), client);

  beforeAll(async () => {
    await scratch.connect();
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
    await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  });

  afterAll(async () => {
    await scratch.dropAll();
  });

  it('has one of two processes started at once apply the migrations while the other waits, names the holder, and then serves', async () => {
    const url = await scratch.create();
    // Both processes find the lock taken, so they are both waiting before either can migrate.
    const gate = await holdMigrationLock(url);
    track(gate.client);
    const servers = [await spawn(url), await spawn(url)];

    for (const server of servers) {
      const line = await logged(server, waiting);
      expect(message(line)).toContain(`pid ${gate.pid} `);
      expect(message(line)).toContain('"lock-holder-test"');
      expect(server.logs().map(message)).toContainEqual(
        expect.stringMatching(/^Connecting to PostgreSQL at 127\.0\.0\.1:\d+\/scratch_test_/),
      );
    }
    await gate.client.end();
    await Promise.all(servers.map((server) => server.waitUntilServing()));

    const appliedBy = servers.map(applied);
    expect(appliedBy.filter((names) => names.length > 0)).toEqual([MIGRATIONS]);
    const other = servers[appliedBy.findIndex((names) => names.length === 0)];
    expect(other.logs().map(message)).toContain('No migrations to apply: the schema is up to date');
    expect(await appliedInDatabase(url)).toEqual(MIGRATIONS);
    for (const server of servers) {
      expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    }
  });

  it('stops promptly on SIGTERM while it waits for the migration lock, saying so', async () => {
    const url = await scratch.create();
    track((await holdMigrationLock(url)).client);
    const server = await spawn(url);
    await logged(server, waiting);
    await sleep(300);
    const signalledAt = Date.now();

    server.signal('SIGTERM');

    expect(await exitOf(server)).toEqual({ code: 143, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(2_000);
    expect(server.logs()).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        phase: 'waiting for the migration lock',
        msg: 'SIGTERM received while waiting for the migration lock: stopping',
      }),
    );
    expectOnlyJsonLines(server);
    expect(await tableExists(url, 'migrations')).toBe(false);
  });

  it('stops on a SIGTERM that comes while its modules load, rather than losing it', async () => {
    const url = await scratch.create();
    // Loading takes a second or two, in which Node runs no signal handler: a signal then is
    // handled once loading is done. One that comes before Node has run the first line of
    // main.ts still kills the process outright: later and later signals find the window.
    const outcomes: unknown[] = [];
    for (const delayMs of [300, 500, 700, 900]) {
      const server = await spawn(url);
      await sleep(delayMs);
      server.signal('SIGTERM');
      const exit = await exitOf(server);
      outcomes.push({ delayMs, exit, output: server.stdout });
      if (exit !== 'still running' && exit.signal === 'SIGTERM') continue; // too early
      expect(exit).toEqual({ code: 143, signal: null });
      const lines = server.logs();
      expect(lines.at(-1)).toEqual(
        expect.objectContaining({
          level: 'warn',
          context: 'Startup',
          msg: expect.stringMatching(/^SIGTERM received while [A-Za-z ]+: stopping$/),
        }),
      );
      expect(lines.map(message)).not.toContainEqual(expect.stringMatching(/^Listening on/));
      expectOnlyJsonLines(server);
      return;
    }
    throw new Error(`every signal came too early: ${JSON.stringify(outcomes)}`);
  });

  it('stops promptly on SIGINT while it connects to a database that does not answer', async () => {
    const hung = await blackhole();
    try {
      const server = await spawn(`postgres://app:hunter2secret@127.0.0.1:${hung.port}/app_test`);
      await logged(server, (line) => message(line).startsWith('Connecting to PostgreSQL'));
      await sleep(500);
      const signalledAt = Date.now();

      server.signal('SIGINT');

      expect(await exitOf(server)).toEqual({ code: 130, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(2_000);
      expect(server.logs().map(message)).toContain(
        'SIGINT received while connecting to PostgreSQL: stopping',
      );
      expect(server.stdout.join('\n')).not.toContain('hunter2secret');
      expectOnlyJsonLines(server);
    } finally {
      await hung.close();
    }
  });

  it('says every 5 s who holds the migration lock, and gives up when MIGRATION_LOCK_WAIT_SECONDS is spent, in one fatal line', async () => {
    const url = await scratch.create();
    const holder = await holdMigrationLock(url);
    track(holder.client);
    const server = await spawn(url, { env: { MIGRATION_LOCK_WAIT_SECONDS: '6' } });
    const waitingAt = Date.parse(String((await logged(server, waiting)).time));

    expect(await exitOf(server)).toEqual({ code: 1, signal: null });
    const still = server.logs().filter((line) => message(line).startsWith('Still waiting'));
    expect(still.map(message)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Still waiting for the migration lock after 5 s of 6 s, held by PostgreSQL backend pid ${holder.pid} \\(application "lock-holder-test", client 127\\.0\\.0\\.1, connected since `,
        ),
      ),
    ]);
    const stillAt = Date.parse(String(still[0].time));
    expect(stillAt - waitingAt).toBeGreaterThanOrEqual(4_900);
    expect(stillAt - waitingAt).toBeLessThan(6_000);
    const fatal = server.logs().filter((line) => line.level === 'fatal');
    expect(Date.parse(String(fatal[0]?.time)) - waitingAt).toBeLessThan(7_500);
    expect(fatal).toEqual([
      expect.objectContaining({
        phase: 'waiting for the migration lock',
        msg: expect.stringMatching(
          new RegExp(
            `^Start-up failed while waiting for the migration lock: gave up after 6 s \\(MIGRATION_LOCK_WAIT_SECONDS\\); the lock is held by PostgreSQL backend pid ${holder.pid} `,
          ),
        ),
      }),
    ]);
    expectOnlyJsonLines(server);
    expect(await tableExists(url, 'migrations')).toBe(false);
  });

  it('applies the migrations with `migrate`, logging each, and exits 0 without serving', async () => {
    const url = await scratch.create();

    const first = await migrate(url);
    expect(await exitOf(first)).toEqual({ code: 0, signal: null });
    expect(applied(first)).toEqual(MIGRATIONS);
    expect(first.logs().map(message)).not.toContainEqual(expect.stringMatching(/^Listening/));
    expectOnlyJsonLines(first);
    expect(await appliedInDatabase(url)).toEqual(MIGRATIONS);

    const again = await migrate(url);
    expect(await exitOf(again)).toEqual({ code: 0, signal: null });
    expect(applied(again)).toEqual([]);
    expect(again.logs().map(message)).toContain('No migrations to apply: the schema is up to date');

    const server = await spawn(url, { env: { MIGRATIONS: 'off' } });
    await server.waitUntilServing();
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    expect(server.logs().map(message)).not.toContainEqual(
      expect.stringMatching(/migration lock|Applied migration/),
    );
  });

  it('refuses to serve with MIGRATIONS=off while migrations are pending, in one clear line', async () => {
    const url = await scratch.create();
    const server = await spawn(url, { env: { MIGRATIONS: 'off' } });

    expect(await exitOf(server)).toEqual({ code: 1, signal: null });
    const fatal = server.logs().filter((line) => line.level === 'fatal');
    expect(fatal).toEqual([
      expect.objectContaining({
        msg:
          'Start-up failed while checking that every migration is applied: MIGRATIONS=off and ' +
          `5 migrations are not applied (${MIGRATIONS.join(', ')}): ` +
          'run `node dist/main.js migrate` first',
      }),
    ]);
    expectOnlyJsonLines(server);
    expect(await tableExists(url, 'migrations')).toBe(false);
  });

  it('reports a failed migration in a single JSON fatal line, without retrying it', async () => {
    const url = await scratch.create();
    await query(url, SEED_USERS_TABLE);
    await query(url, `INSERT INTO users (username, password) VALUES ('erin', 'x'), ('ERIN', 'x')`);
    const startedAt = Date.now();
    const server = await spawn(url);

    expect(await exitOf(server)).toEqual({ code: 1, signal: null });
    expect(Date.now() - startedAt).toBeLessThan(8_000);
    expectOnlyJsonLines(server);
    const clash = server.stdout.filter((line) => line.includes('Cannot make usernames unique'));
    expect(clash).toHaveLength(1);
    expect(JSON.parse(clash[0])).toEqual(
      expect.objectContaining({
        level: 'fatal',
        phase: 'applying migrations',
        msg: expect.stringMatching(
          /^Start-up failed while applying migrations: Cannot make usernames unique/,
        ),
        err: expect.objectContaining({
          type: 'Error',
          message: expect.stringContaining('ERIN (user_id 2)'),
          stack: expect.stringMatching(/\n\s+at /),
        }),
      }),
    );
    expect(server.logs().filter((line) => line.level === 'fatal')).toHaveLength(1);
  });

  it('bounds the table locks and statements of a migration, failing clearly and rolling it back', async () => {
    const url = await scratch.create();
    await query(url, SEED_USERS_TABLE);
    const blocker = track(new pg.Client({ connectionString: url }));
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');

    const lockBound = await migrate(url, { MIGRATION_LOCK_TIMEOUT_MS: '300' });
    expect(await exitOf(lockBound)).toEqual({ code: 1, signal: null });
    expect(lockBound.logs().filter((line) => line.level === 'fatal')).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(
          /^Start-up failed while applying migrations: migration CreateSessions1764200000000 waited longer than MIGRATION_LOCK_TIMEOUT_MS \(300 ms\) for a table lock/,
        ),
      }),
    ]);

    const statementBound = await migrate(url, {
      MIGRATION_LOCK_TIMEOUT_MS: '0',
      MIGRATION_STATEMENT_TIMEOUT_MS: '300',
    });
    expect(await exitOf(statementBound)).toEqual({ code: 1, signal: null });
    expect(statementBound.logs().filter((line) => line.level === 'fatal')).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(
          /^Start-up failed while applying migrations: a statement of migration CreateSessions1764200000000 ran longer than MIGRATION_STATEMENT_TIMEOUT_MS \(300 ms\)/,
        ),
      }),
    ]);

    await blocker.query('ROLLBACK');
    expect(await appliedInDatabase(url)).toEqual(MIGRATIONS.slice(0, 1));
    const retried = await migrate(url);
    expect(await exitOf(retried)).toEqual({ code: 0, signal: null });
    expect(applied(retried)).toEqual(MIGRATIONS.slice(1));
  });

  it('stops at once on SIGTERM during a migration, which PostgreSQL rolls back', async () => {
    const url = await scratch.create();
    await query(url, SEED_USERS_TABLE);
    const blocker = track(new pg.Client({ connectionString: url }));
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
    const server = await migrate(url, { MIGRATION_LOCK_TIMEOUT_MS: '0' });
    await logged(server, (line) => message(line) === `Applied migration ${MIGRATIONS[0]}`);
    await sleep(300);
    const signalledAt = Date.now();

    server.signal('SIGTERM');

    expect(await exitOf(server)).toEqual({ code: 143, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(2_000);
    expect(server.logs().map(message)).toContain(
      'SIGTERM received while applying migrations: stopping (PostgreSQL rolls back the migration in progress)',
    );
    // The server notices the closed connection within a second or two, though the
    // migration's statement is still waiting for the table: it ends the session, which
    // rolls the transaction back and frees the migration lock.
    const deadline = Date.now() + 5_000;
    while ((await migrationLockHeld(url)) && Date.now() < deadline) await sleep(100);
    expect(await migrationLockHeld(url)).toBe(false);
    await blocker.query('ROLLBACK');
    expect(await appliedInDatabase(url)).toEqual(MIGRATIONS.slice(0, 1));
    expect(await tableExists(url, 'sessions')).toBe(false);
  });

  it('migrates as the migrator role and serves as the application role, with the grants of deploy/README.md', async () => {
    const readme = await readFile('deploy/README.md', 'utf8');
    const guide = readme.slice(readme.indexOf('\n## Migrations\n'));
    const [cluster, database] = [...guide.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
    const suffix = randomBytes(4).toString('hex');
    const names: Record<string, string> = {
      docs_migrator: `test_startup_migrator_${suffix}`,
      docs_app: `test_startup_app_${suffix}`,
      docs: `scratch_test_roles_${suffix}`,
    };
    const ours = (sql: string) =>
      sql.replace(/\b(docs_migrator|docs_app|docs)\b/g, (n) => names[n]);
    const urlAs = (role: string, db = names.docs) => {
      const url = new URL(process.env.DATABASE_URL!);
      url.username = role;
      url.password = '';
      url.pathname = `/${db}`;
      return url.toString();
    };
    // One statement at a time, as psql sends them (CREATE DATABASE refuses a transaction).
    const run = async (url: string, sql: string) => {
      for (const statement of ours(sql).split(/;\s*$/m)) {
        if (statement.replace(/--.*$/gm, '').trim()) await query(url, statement);
      }
    };
    const adminDatabase = new URL(process.env.DATABASE_URL!).pathname.slice(1);
    await run(urlAs('postgres', adminDatabase), cluster);
    try {
      await run(urlAs('postgres'), database);

      const migrator = await migrate(urlAs(names.docs_migrator));
      expect(await exitOf(migrator)).toEqual({ code: 0, signal: null });
      expect(applied(migrator)).toEqual(MIGRATIONS);

      const app = await spawn(urlAs(names.docs_app), {
        env: { MIGRATIONS: 'off', BCRYPT_COST: '4' },
      });
      await app.waitUntilServing();
      const credentials = { username: `roles_${suffix}`, password: 'correct horse battery' };
      expect((await call(app.url, 'POST', '/auth/signup', { body: credentials })).status).toBe(201);
      const session = sessionFrom(
        await call(app.url, 'POST', '/auth/login', { body: credentials }),
      );
      const created = await call(app.url, 'POST', '/documents', {
        body: { title: 'grants', content: 'rows only' },
        session,
      });
      expect(created.status).toBe(201);

      const asApp = urlAs(names.docs_app);
      await expect(query(asApp, 'CREATE TABLE intruder (id int)')).rejects.toMatchObject({
        code: '42501',
      });
      await expect(query(asApp, 'ALTER TABLE users ADD COLUMN intruder int')).rejects.toMatchObject(
        { code: '42501' },
      );
      await expect(query(asApp, 'TRUNCATE documents')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await Promise.all(started.splice(0).map((server) => server.stop()));
      const admin = urlAs('postgres', adminDatabase);
      await query(admin, `DROP DATABASE IF EXISTS ${names.docs} WITH (FORCE)`);
      await query(admin, `DROP ROLE IF EXISTS ${names.docs_app}, ${names.docs_migrator}`);
    }
  });
});
