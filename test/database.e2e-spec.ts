import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { runMigrationsLocked } from '../src/common/database/migrate.js';
import { postgresOptions } from '../src/common/database/typeorm-options.js';
import { Session } from '../src/auth/entities/session.entity.js';
import { Document } from '../src/documents/entities/document.entity.js';
import { User } from '../src/users/entities/user.entity.js';
import {
  MIGRATIONS,
  query,
  ScratchDatabases,
  SEED_USERS_TABLE,
} from './support/scratch-databases.js';

const run = promisify(execFile);
const MIGRATE_CLI = 'dist/common/database/migrate.cli.js';

const COLUMNS_QUERY = `
  SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
  FROM information_schema.columns
  WHERE table_schema = 'public' AND table_name = 'users'
  ORDER BY ordinal_position`;

const CONSTRAINTS_QUERY = `
  SELECT c.conname, c.contype, pg_get_constraintdef(c.oid) AS definition
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
  WHERE t.relname = 'users' AND t.relnamespace = 'public'::regnamespace
  ORDER BY c.conname`;

async function migratedDataSource(url: string): Promise<DataSource> {
  const dataSource = new DataSource({
    ...(await postgresOptions(url, 2)),
    entities: [User, Session, Document],
  });
  await dataSource.initialize();
  try {
    await runMigrationsLocked(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}

describe('the database schema and its migrations', () => {
  const scratch = new ScratchDatabases();
  let seedShape: { columns: unknown[]; constraints: unknown[] };

  beforeAll(async () => {
    await scratch.connect();
    const url = await scratch.create();
    await query(url, SEED_USERS_TABLE);
    seedShape = {
      columns: await query(url, COLUMNS_QUERY),
      constraints: await query(url, CONSTRAINTS_QUERY),
    };
  });

  afterAll(async () => {
    await scratch.dropAll();
  });

  it('creates the users table exactly as the seed defines it', async () => {
    const url = await scratch.create();
    const dataSource = await migratedDataSource(url);
    await dataSource.destroy();

    expect(await query(url, COLUMNS_QUERY)).toEqual(seedShape.columns);
    expect(await query(url, CONSTRAINTS_QUERY)).toEqual(seedShape.constraints);
    expect(seedShape.columns).toEqual([
      expect.objectContaining({ column_name: 'user_id', data_type: 'integer', is_nullable: 'NO' }),
      expect.objectContaining({
        column_name: 'username',
        data_type: 'character varying',
        character_maximum_length: 50,
        is_nullable: 'NO',
      }),
      expect.objectContaining({ column_name: 'password', data_type: 'text', is_nullable: 'NO' }),
      expect.objectContaining({
        column_name: 'created_date',
        data_type: 'timestamp without time zone',
        column_default: 'CURRENT_TIMESTAMP',
      }),
      expect.objectContaining({
        column_name: 'session_id',
        data_type: 'uuid',
        column_default: null,
      }),
    ]);
  });

  it('adopts a database where the seed already created the users table, keeping its rows', async () => {
    const url = await scratch.create();
    await query(url, SEED_USERS_TABLE);
    await query(url, `INSERT INTO users (username, password) VALUES ('seeded', 'x')`);

    const dataSource = await migratedDataSource(url);
    await dataSource.destroy();

    expect(await query(url, 'SELECT username FROM users')).toEqual([{ username: 'seeded' }]);
    expect(await query(url, COLUMNS_QUERY)).toEqual(seedShape.columns);
    expect(await query(url, 'SELECT name FROM migrations ORDER BY id')).toEqual(
      MIGRATIONS.map((name) => ({ name })),
    );
  });

  it('makes usernames unique regardless of case, keeping the seed’s columns', async () => {
    const url = await scratch.create();
    const dataSource = await migratedDataSource(url);
    await dataSource.destroy();

    await query(url, `INSERT INTO users (username, password) VALUES ('dave', 'x')`);
    await expect(
      query(url, `INSERT INTO users (username, password) VALUES ('DaVe', 'x')`),
    ).rejects.toMatchObject({ code: '23505', constraint: 'users_username_lower_key' });
    expect(await query(url, COLUMNS_QUERY)).toEqual(seedShape.columns);
  });

  it('stops, naming every clash, on a database whose usernames differ only in case', async () => {
    const url = await scratch.create();
    await query(url, SEED_USERS_TABLE);
    await query(
      url,
      `INSERT INTO users (username, password)
       VALUES ('alice', 'x'), ('ALICE', 'x'), ('carol', 'x'), ('Bob', 'x'), ('Alice', 'x'),
              ('bob', 'x')`,
    );

    const failed = migratedDataSource(url);
    await expect(failed).rejects.toThrow(
      'Cannot make usernames unique regardless of case: 2 names are taken by more than one ' +
        'user, differing only in case: [alice (user_id 1), ALICE (user_id 2), Alice (user_id 5)]; ' +
        '[Bob (user_id 4), bob (user_id 6)]. Rename all but one user of each group',
    );
    const applied = await query<{ name: string }>(url, 'SELECT name FROM migrations ORDER BY id');
    const before = MIGRATIONS.slice(
      0,
      MIGRATIONS.indexOf('UsernamesUniqueIgnoringCase1764450000000'),
    );
    expect(applied.map((row) => row.name)).toEqual(before);
    expect(await query(url, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 6 }]);

    await query(url, `UPDATE users SET username = 'alice2' WHERE user_id = 2`);
    await query(url, `UPDATE users SET username = 'alice3' WHERE user_id = 5`);
    await query(url, `UPDATE users SET username = 'bob2' WHERE user_id = 6`);
    const dataSource = await migratedDataSource(url);
    await dataSource.destroy();
    expect(
      (await query<{ name: string }>(url, 'SELECT name FROM migrations ORDER BY id')).map(
        (row) => row.name,
      ),
    ).toEqual(MIGRATIONS);
  });

  it('applies each migration once when several replicas start together', async () => {
    for (let round = 0; round < 8; round++) {
      const url = await scratch.create();
      const replicas = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const dataSource = new DataSource({
            ...(await postgresOptions(url, 2)),
            entities: [User, Session, Document],
          });
          await dataSource.initialize();
          return dataSource;
        }),
      );
      const appliedBy = await Promise.all(replicas.map((replica) => runMigrationsLocked(replica)));
      await Promise.all(replicas.map((dataSource) => dataSource.destroy()));

      expect(appliedBy.flat().sort()).toEqual([...MIGRATIONS].sort());
      expect(appliedBy.filter((names) => names.length > 0)).toEqual([MIGRATIONS]);
      const applied = await query<{ name: string }>(url, 'SELECT name FROM migrations ORDER BY id');
      expect(applied.map((row) => row.name)).toEqual(MIGRATIONS);
    }
  });

  it('keeps the entities in step with the migrated schema', async () => {
    const url = await scratch.create();
    const dataSource = await migratedDataSource(url);
    const pending = await dataSource.driver.createSchemaBuilder().log();
    await dataSource.destroy();

    // PostgreSQL reports the seed's default as CURRENT_TIMESTAMP, which TypeORM compares
    // against its own spelling of the same function, now(): a difference in name only.
    const sameDefault = 'ALTER TABLE "users" ALTER COLUMN "created_date" SET DEFAULT now()';
    const statements = pending.upQueries.map((q) => q.query).filter((sql) => sql !== sameDefault);
    expect(statements).toEqual([]);
  });

  it('reverts the last migrations and applies them again', async () => {
    const url = await scratch.create();
    const dataSource = await migratedDataSource(url);
    const tables = async () =>
      (
        await query<{ tablename: string }>(
          url,
          `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
        )
      ).map((row) => row.tablename);
    const lowerIndex = async () =>
      (
        await query<{ present: boolean }>(
          url,
          `SELECT to_regclass('users_username_lower_key') IS NOT NULL AS present`,
        )
      )[0].present;
    const all = ['documents', 'migrations', 'sessions', 'trusted_devices', 'users'];
    expect(await tables()).toEqual(all);
    expect(await lowerIndex()).toBe(true);

    await dataSource.undoLastMigration();
    expect(await tables()).toEqual(all.filter((table) => table !== 'trusted_devices'));
    expect(await lowerIndex()).toBe(true);
    await dataSource.undoLastMigration();
    expect(await lowerIndex()).toBe(false);

    await runMigrationsLocked(dataSource);
    await dataSource.destroy();
    expect(await tables()).toEqual(all);
    expect(await lowerIndex()).toBe(true);
  });

  it('shows, runs and reverts migrations from the command line', async () => {
    const url = await scratch.create();
    const cli = async (command: string) => {
      const { stdout } = await run(process.execPath, [MIGRATE_CLI, command], {
        env: { ...process.env, DATABASE_URL: url },
      });
      return stdout;
    };
    const present = async (table: string) =>
      (
        await query<{ present: boolean }>(
          url,
          `SELECT to_regclass('${table}') IS NOT NULL AS present`,
        )
      )[0].present;

    const pending = await cli('show');
    for (const name of MIGRATIONS) expect(pending).toContain(`[ ] ${name}`);
    await cli('run');
    expect(await present('trusted_devices')).toBe(true);
    const applied = await cli('show');
    for (const name of MIGRATIONS) expect(applied).toContain(`[X] ${name}`);
    await cli('revert');
    expect(await present('trusted_devices')).toBe(false);
    expect(await present('users_username_lower_key')).toBe(true);
    await cli('revert');
    expect(await present('users_username_lower_key')).toBe(false);
    expect(await present('documents')).toBe(true);
    await expect(run(process.execPath, [MIGRATE_CLI, 'sideways'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage:'),
    });
  });
});
