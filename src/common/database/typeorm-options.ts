import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Logger } from '@nestjs/common';
import { DataSource, type DataSourceOptions, type MigrationInterface } from 'typeorm';
import { enterStartupPhase } from '../startup/startup-phase.js';
import { MigrationLog } from './migration-log.js';

type MigrationClass = new () => MigrationInterface;

/** Key of the session-level advisory lock that serialises migrations across replicas. */
export const MIGRATION_LOCK_KEY = 7_878_000_001;

/**
 * `migrations/` sits beside `src/` in the repository and beside the compiled server in
 * `dist/`, so it is one level further up from the sources than from the build.
 */
function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../migrations'), join(here, '../../../migrations')];
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`No migrations folder at ${candidates.join(' or ')}`);
  return found;
}

/** Every migration class, in file-name (timestamp) order. */
export async function loadMigrations(): Promise<MigrationClass[]> {
  const dir = migrationsDir();
  const files = (await readdir(dir))
    .filter((file) => /\.(js|ts)$/.test(file) && !file.endsWith('.d.ts'))
    .sort();
  const classes: MigrationClass[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    classes.push(
      ...(Object.values(module).filter((v) => typeof v === 'function') as MigrationClass[]),
    );
  }
  return classes;
}

/**
 * Options shared by the server and the migration commands. `synchronize` is off: the schema
 * changes only through migrations. `applicationName` tells the sessions apart in
 * `pg_stat_activity`, as in the line of a process waiting for the migration lock.
 */
export async function postgresOptions(url: string, poolMax: number, applicationName = 'docs-api') {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: await loadMigrations(),
    migrationsTransactionMode: 'each',
    // TypeORM's own loggers write failed and slow queries with their parameters verbatim
    // (token hashes, bcrypt hashes): this one logs the progress of migrations only.
    logging: false,
    logger: new MigrationLog(),
    extra: {
      max: poolMax,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: applicationName,
    },
  } satisfies DataSourceOptions;
}

/** Where a connection goes, for the log: host, port and database, never the credentials. */
function describeUrl(url: string): string {
  const { hostname, port, pathname } = new URL(url);
  return `${hostname}:${port || 5432}${pathname}`;
}

/** Opens the DataSource's pool, saying where to. */
export async function connectDataSource(options: DataSourceOptions): Promise<DataSource> {
  enterStartupPhase('connecting to PostgreSQL');
  const { url } = options as { url?: string };
  if (url) new Logger('Database').log(`Connecting to PostgreSQL at ${describeUrl(url)}`);
  return new DataSource(options).initialize();
}
