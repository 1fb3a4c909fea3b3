import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { MIGRATION_LOCK_KEY } from './typeorm-options.js';

/**
 * Applies pending migrations while holding a PostgreSQL advisory lock, so that replicas
 * starting together apply each migration exactly once; the others wait, then find nothing
 * left to do.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<void> {
  const logger = new Logger('Migrations');
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      for (const migration of applied) logger.log(`Applied migration ${migration.name}`);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lock.release();
  }
}
