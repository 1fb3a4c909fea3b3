import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { MIGRATION_LOCK_KEY } from './typeorm-options.js';

const logger = new Logger('Migrations');

/**
 * Runs `work` while holding a PostgreSQL advisory lock, so that replicas starting together,
 * or a migration job beside them, change the schema one at a time.
 */
export async function withMigrationLock<T>(
  dataSource: DataSource,
  work: () => Promise<T>,
): Promise<T> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lock.release();
  }
}

/** Applies pending migrations under the lock: each exactly once, however many replicas start. */
export async function runMigrationsLocked(dataSource: DataSource): Promise<void> {
  await withMigrationLock(dataSource, async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.log(`Applied migration ${migration.name}`);
  });
}

/** Reverts the most recently applied migration under the lock. */
export async function revertLastMigrationLocked(dataSource: DataSource): Promise<void> {
  await withMigrationLock(dataSource, () => dataSource.undoLastMigration({ transaction: 'each' }));
}
