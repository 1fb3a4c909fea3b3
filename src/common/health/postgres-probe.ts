import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';

/** How the probe's connection names itself in `pg_stat_activity`. */
export const PROBE_APPLICATION_NAME = 'docs-api-health';

/**
 * Answers whether PostgreSQL takes a query, on a connection of its own rather than one of the
 * request pool: a pool saturated by requests must not look like a database that is down, and
 * a check must not wait behind those requests. The connection (same settings as the pool's)
 * is opened at the first check, kept between checks, and dropped after any failure, so that
 * the next check connects afresh.
 */
@Injectable()
export class PostgresProbe implements OnApplicationShutdown {
  private connection?: Promise<pg.Client>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Resolves when `SELECT 1` is answered; rejects when connecting or the query takes longer
   * than `timeoutMs` each, or fails.
   */
  async ping(timeoutMs: number): Promise<void> {
    const connection = (this.connection ??= this.connect(timeoutMs));
    try {
      await (await connection).query('SELECT 1');
    } catch (error) {
      this.drop(connection);
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    const client = await connection?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  private connect(timeoutMs: number): Promise<pg.Client> {
    const pool = (this.dataSource.driver as { master?: pg.Pool } | undefined)?.master;
    if (!pool) return Promise.reject(new Error('the database is not initialised'));
    const client = new pg.Client({
      ...pool.options,
      application_name: PROBE_APPLICATION_NAME,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      keepAlive: true,
    });
    const connection = client.connect().then(() => client);
    // A connection ended by the server (restart, failover) is reported here; without a
    // listener the error would crash the process.
    client.on('error', () => this.drop(connection));
    client.on('end', () => this.drop(connection));
    return connection;
  }

  /** Forgets `connection` (if it is still the current one) and closes it. */
  private drop(connection: Promise<pg.Client> | undefined): void {
    if (!connection || this.connection !== connection) return;
    this.connection = undefined;
    // A client with a query still running is cut off at once (its socket destroyed).
    void connection.then((client) => client.end()).catch(() => undefined);
  }
}
