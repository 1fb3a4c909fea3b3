import 'reflect-metadata';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { loadConfig, readEnvironment } from '../config/app-config.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { postgresOptions } from './typeorm-options.js';

const distRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The DataSource of the command-line tools (`npm run migration:*`), built from the same
 * validated configuration as the server: `DATABASE_URL`, else the embedded PostgreSQL in
 * `DATA_DIR`, which stops when the command exits.
 */
export async function cliDataSource(): Promise<DataSource> {
  const config = loadConfig(readEnvironment([]));
  const url =
    config.database.url ??
    (await new EmbeddedPostgres({ dataDir: config.database.dataDir }).start());
  return new DataSource({
    ...(await postgresOptions(url, 2)),
    entities: [join(distRoot, '**/*.entity.js')],
  });
}
