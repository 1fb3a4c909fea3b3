import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, readEnvironment } from '../config/app-config.js';
import { cliDataSource } from './cli-data-source.js';
import { pendingMigrations, revertLastMigrationLocked, runMigrationsLocked } from './migrate.js';

const USAGE = 'usage: node dist/common/database/migrate.cli.js run|revert|show';

/**
 * `run`, `revert` and `show` for the migrations, under the same lock and bounds as the server
 * (MIGRATION_LOCK_WAIT_SECONDS, MIGRATION_LOCK_TIMEOUT_MS, MIGRATION_STATEMENT_TIMEOUT_MS).
 */
async function main(command: string | undefined): Promise<number> {
  if (!command || !['run', 'revert', 'show'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  Logger.overrideLogger(['log', 'warn', 'error']);
  const logger = new Logger('Migrations');
  const settings = loadConfig(readEnvironment([])).migrations;
  const dataSource = await (await cliDataSource()).initialize();
  try {
    if (command === 'run') await runMigrationsLocked(dataSource, settings);
    if (command === 'revert') await revertLastMigrationLocked(dataSource, settings);
    if (command === 'show') {
      const pending = new Set(await pendingMigrations(dataSource));
      for (const migration of dataSource.migrations) {
        const name = migration.name ?? migration.constructor.name;
        logger.log(`${pending.has(name) ? '[ ]' : '[X]'} ${name}`);
      }
    }
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
