import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { loadConfig, type MigrationSettings } from '../config/app-config.js';
import { APPLYING_MIGRATIONS, enterStartupPhase } from '../startup/startup-phase.js';
import { MIGRATION_LOCK_KEY } from './typeorm-options.js';

const logger = new Logger('Migrations');

/** The settings of an empty environment, for callers without a configuration of their own. */
export const DEFAULT_MIGRATION_SETTINGS: MigrationSettings = loadConfig({}).migrations;

/** How often to try the lock: often enough that a wait ends soon after the holder is done. */
const POLL_INTERVAL_MS = 250;
/** How often a process that waits for the lock says who holds it. */
const REPORT_INTERVAL_MS = 5_000;

/** SQLSTATEs of a statement stopped by `lock_timeout` and by `statement_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';
/**
 * SQLSTATEs of `SET client_connection_check_interval` where it is not available: PostgreSQL
 * before 14 (an unknown setting) and platforms without the check (an invalid value).
 */
const SETTING_UNAVAILABLE = new Set(['42704', '22023']);

/** The session that holds the migration lock, as far as this role may see it. */
const LOCK_HOLDER = `
  SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr, a.backend_start
  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
  LIMIT 1`;

interface LockHolder {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  backend_start: Date | null;
}

async function lockHolder(runner: QueryRunner): Promise<string> {
  const [holder] = (await runner.query(LOCK_HOLDER, [MIGRATION_LOCK_KEY])) as LockHolder[];
  if (!holder) return 'a session that has just released it';
  // Another role's sessions show no details unless this one may read all statistics.
  const details = [
    holder.application_name && `application "${holder.application_name}"`,
    holder.client_addr ? `client ${holder.client_addr}` : holder.backend_start && 'local socket',
    holder.backend_start && `connected since ${holder.backend_start.toISOString()}`,
  ].filter(Boolean);
  const suffix = details.length > 0 ? ` (${details.join(', ')})` : '';
  return `PostgreSQL backend pid ${holder.pid}${suffix}`;
}

/**
 * Takes the session-level advisory lock on `runner`'s connection, trying every 250 ms so that
 * a signal is never kept waiting, and saying who holds it at once and every 5 s. Fails once
 * `waitSeconds` are spent.
 */
async function takeMigrationLock(runner: QueryRunner, waitSeconds: number): Promise<void> {
  enterStartupPhase('waiting for the migration lock');
  const startedAt = Date.now();
  let reportAt: number | undefined;
  for (;;) {
    const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
      MIGRATION_LOCK_KEY,
    ])) as { locked: boolean }[];
    const waitedMs = Date.now() - startedAt;
    if (locked) {
      if (reportAt !== undefined) {
        logger.log(`Took the migration lock after ${(waitedMs / 1000).toFixed(1)} s`);
      }
      return;
    }
    if (waitedMs >= waitSeconds * 1000) {
      throw new Error(
        `gave up after ${waitSeconds} s (MIGRATION_LOCK_WAIT_SECONDS); the lock is held by ${await lockHolder(runner)}`,
      );
    }
    if (reportAt === undefined || Date.now() >= reportAt) {
      const holder = await lockHolder(runner);
      logger.log(
        reportAt === undefined
          ? `Waiting for the migration lock, held by ${holder}`
          : `Still waiting for the migration lock after ${Math.round(waitedMs / 1000)} s of ${waitSeconds} s, held by ${holder}`,
      );
      reportAt = Date.now() + REPORT_INTERVAL_MS;
    }
    await sleep(Math.min(POLL_INTERVAL_MS, waitSeconds * 1000 - waitedMs));
  }
}

/**
 * Bounds every statement of the session: `lock_timeout` (how long a migration may queue for a
 * table lock, holding up the queries queued behind it) and `statement_timeout`. Where
 * PostgreSQL can, it also checks every second that the client is still there, so that a
 * migration whose process was stopped is rolled back at once, not when its statement ends.
 */
async function boundStatements(runner: QueryRunner, settings: MigrationSettings): Promise<void> {
  await runner.query(
    `SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`,
    [String(settings.lockTimeoutMs), String(settings.statementTimeoutMs)],
  );
  try {
    await runner.query(`SET client_connection_check_interval = 1000`);
  } catch (error) {
    if (!SETTING_UNAVAILABLE.has(String((error as { code?: unknown }).code))) throw error;
  }
}

/** Returns a session to the pool as it came: no transaction, lock or setting of ours. */
async function resetSession(runner: QueryRunner): Promise<void> {
  try {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    await runner.query('DISCARD ALL');
  } catch {
    // The session is broken: PostgreSQL has dropped its lock and settings with it.
  }
}

/**
 * Runs `work` on a session that holds the migration lock (a PostgreSQL advisory lock), with
 * its statements bounded by `settings`: replicas starting together, or a migration job beside
 * them, change the schema one at a time.
 */
export async function withMigrationLock<T>(
  dataSource: DataSource,
  settings: MigrationSettings,
  work: (runner: QueryRunner) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await boundStatements(runner, settings);
    await takeMigrationLock(runner, settings.lockWaitSeconds);
    return await work(runner);
  } finally {
    await resetSession(runner);
    await runner.release();
  }
}

/** The failure of a migration stopped by one of the bounds, said in the settings' terms. */
function explainBound(
  error: unknown,
  migration: string | undefined,
  settings: MigrationSettings,
): unknown {
  const code = (error as { code?: unknown }).code;
  const which = migration ? `migration ${migration}` : 'a migration';
  if (code === LOCK_NOT_AVAILABLE) {
    return new Error(
      `${which} waited longer than MIGRATION_LOCK_TIMEOUT_MS (${settings.lockTimeoutMs} ms) for a table lock that other sessions hold, and was rolled back: start again when they are done, or raise the timeout`,
      { cause: error },
    );
  }
  if (code === QUERY_CANCELED) {
    return new Error(
      `a statement of ${which} ran longer than MIGRATION_STATEMENT_TIMEOUT_MS (${settings.statementTimeoutMs} ms), or was cancelled, and the migration was rolled back: raise the timeout for it`,
      { cause: error },
    );
  }
  return error;
}

/**
 * Applies pending migrations under the lock, each in its own transaction and each exactly
 * once however many processes start together. Returns the names of those applied.
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
  settings: MigrationSettings = DEFAULT_MIGRATION_SETTINGS,
): Promise<string[]> {
  return withMigrationLock(dataSource, settings, async (runner) => {
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    const pending = (await executor.getPendingMigrations()).map((migration) => migration.name);
    if (pending.length === 0) {
      logger.log('No migrations to apply: the schema is up to date');
      return [];
    }
    logger.log(`Applying ${pending.length} migration(s): ${pending.join(', ')}`);
    enterStartupPhase(APPLYING_MIGRATIONS);
    try {
      return (await executor.executePendingMigrations()).map((migration) => migration.name);
    } catch (error) {
      // The failed migration is the first pending one still not applied.
      const executed = await executor.getExecutedMigrations().catch(() => undefined);
      const done = new Set(executed?.map((migration) => migration.name));
      const failed = executed && pending.find((name) => !done.has(name));
      throw explainBound(error, failed, settings);
    }
  });
}

/** Reverts the most recently applied migration under the lock. */
export async function revertLastMigrationLocked(
  dataSource: DataSource,
  settings: MigrationSettings = DEFAULT_MIGRATION_SETTINGS,
): Promise<void> {
  await withMigrationLock(dataSource, settings, async (runner) => {
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    await executor.undoLastMigration();
  });
}

/** Names of the migrations of this build that the database has not applied; reads only. */
export async function pendingMigrations(dataSource: DataSource): Promise<string[]> {
  const pending = await new MigrationExecutor(dataSource).getPendingMigrations();
  return pending.map((migration) => migration.name);
}

/**
 * For MIGRATIONS=off: a deploy step applies migrations, so the server only checks that none
 * is pending, and refuses to start otherwise. (TypeORM's `showMigrations` would create the
 * migrations table, which the application's role may not do.)
 */
export async function requireMigrationsApplied(dataSource: DataSource): Promise<void> {
  enterStartupPhase('checking that every migration is applied');
  const pending = await pendingMigrations(dataSource);
  if (pending.length > 0) {
    const count = pending.length === 1 ? '1 migration is' : `${pending.length} migrations are`;
    throw new Error(
      `MIGRATIONS=off and ${count} not applied (${pending.join(', ')}): run \`node dist/main.js migrate\` first`,
    );
  }
  logger.log(`Every migration is applied (${dataSource.migrations.length})`);
}

/** Brings the schema up to date as `settings.mode` says: migrate under the lock, or check. */
export async function prepareSchema(
  dataSource: DataSource,
  settings: MigrationSettings,
): Promise<void> {
  if (settings.mode === 'off') await requireMigrationsApplied(dataSource);
  else await runMigrationsLocked(dataSource, settings);
}
