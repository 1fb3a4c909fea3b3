import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DataSourceOptions, MigrationInterface } from 'typeorm';

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
 * Options shared by the server and the migration CLI. `synchronize` is off: the schema
 * changes only through migrations.
 */
export async function postgresOptions(url: string, poolMax: number) {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: await loadMigrations(),
    migrationsTransactionMode: 'each',
    // TypeORM's logger writes failed and slow queries with their parameters verbatim (token
    // hashes, bcrypt hashes): it stays off, and query failures reach the log through the
    // exception filter's serializer, without values.
    logging: false,
    extra: {
      max: poolMax,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'docs-api',
    },
  } satisfies DataSourceOptions;
}
