import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { cliDataSource } from './cli-data-source.js';
import { revertLastMigrationLocked, runMigrationsLocked } from './migrate.js';

const UNDEFINED_TABLE = '42P01';
const USAGE = 'usage: node dist/common/database/migrate.cli.js run|revert|show';

/** `run`, `revert` and `show` for the migrations, under the same lock the server takes. */
async function main(command: string | undefined): Promise<number> {
  if (!command || !['run', 'revert', 'show'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  Logger.overrideLogger(['log', 'warn', 'error']);
  const logger = new Logger('Migrations');
  const dataSource = await (await cliDataSource()).initialize();
  try {
    if (command === 'run') await runMigrationsLocked(dataSource);
    if (command === 'revert') await revertLastMigrationLocked(dataSource);
    if (command === 'show') {
      const rows = await dataSource
        .query<{ name: string }[]>('SELECT name FROM migrations')
        .catch((error: { code?: string }) => {
          if (error.code === UNDEFINED_TABLE) return [];
          throw error;
        });
      const applied = new Set(rows.map((row) => row.name));
      for (const migration of dataSource.migrations) {
        const name = migration.name ?? migration.constructor.name;
        logger.log(`${applied.has(name) ? '[X]' : '[ ]'} ${name}`);
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
