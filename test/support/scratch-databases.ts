import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Every migration, in the order they apply. */
export const MIGRATIONS = [
  'CreateUsers1764100000000',
  'CreateSessions1764200000000',
  'CreateDocuments1764300000000',
  'UsernamesUniqueIgnoringCase1764450000000',
  'CreateTrustedDevices1764700000000',
];

/** The `users` table exactly as the earlier server's seed made it. */
export const SEED_USERS_TABLE = `
  CREATE TABLE users (
    user_id SERIAL PRIMARY KEY,
    username VARCHAR(50) UNIQUE NOT NULL,
    password TEXT NOT NULL,
    created_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    session_id UUID DEFAULT NULL
  )`;

/**
 * Fresh, empty databases on the run's PostgreSQL server (the one of `DATABASE_URL`), each
 * dropped by `dropAll`.
 */
export class ScratchDatabases {
  private readonly created: string[] = [];
  private readonly admin = new pg.Client({ connectionString: process.env.DATABASE_URL });

  async connect(): Promise<void> {
    await this.admin.connect();
  }

  /** Creates a database and returns its URL. */
  async create(): Promise<string> {
    const name = `scratch_test_${randomBytes(6).toString('hex')}`;
    await this.admin.query(`CREATE DATABASE ${name}`);
    this.created.push(name);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async dropAll(): Promise<void> {
    for (const name of this.created.splice(0)) {
      await this.admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
    await this.admin.end();
  }
}

/** Runs one statement on its own connection to `url`. */
export async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}
