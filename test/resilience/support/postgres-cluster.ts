import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { postgresBinaries } from '../../../src/common/database/embedded-postgres-binaries.js';
import { freePort } from '../../../src/common/net/free-port.js';

interface Binaries {
  initdb: string;
  postgres: string;
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) =>
    Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root needs a postgres user');
  return { uid, gid };
}

/**
 * A throw-away PostgreSQL cluster run from the `embedded-postgres` binaries, which a suite can
 * stop and start again on the same data folder and the same port (so that a server's
 * DATABASE_URL stays valid across the outage). Trust authentication on 127.0.0.1 only.
 */
export class TestPostgres {
  private process?: ChildProcess;

  private constructor(
    private readonly root: string,
    private readonly binaries: Binaries,
    readonly port: number,
  ) {}

  private get dataDir(): string {
    return join(this.root, 'cluster');
  }

  /** Creates the cluster in a temporary folder and starts it. */
  static async create(): Promise<TestPostgres> {
    // As root, from a copy the postgres user can reach when the checkout is private.
    const { native } = await postgresBinaries(new Logger(TestPostgres.name));
    const binaries = {
      initdb: join(native, 'bin', 'initdb'),
      postgres: join(native, 'bin', 'postgres'),
    };
    const root = await mkdtemp(join(tmpdir(), 'docs-api-resilience-pg-'));
    await chmod(root, 0o755);
    const cluster = new TestPostgres(root, binaries, await freePort());
    try {
      const owner = runAs();
      if (owner) await chown(root, owner.uid, owner.gid);
      const init = spawnSync(
        binaries.initdb,
        [`--pgdata=${cluster.dataDir}`, '--auth=trust', '--username=postgres', '--no-sync'],
        { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, ...owner },
      );
      if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
      await cluster.start();
      return cluster;
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }

  /** Starts (again) on the same folder and port, and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.process) return;
    const child = spawn(
      this.binaries.postgres,
      [
        '-D',
        this.dataDir,
        '-p',
        String(this.port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        // Speed over crash safety: PostgreSQL itself only ever gets a fast shutdown here.
        '-c',
        'fsync=off',
        '-c',
        'max_connections=100',
      ],
      { stdio: 'ignore', env: { ...process.env, LC_ALL: 'C' }, ...runAs() },
    );
    this.process = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) {
        this.process = undefined;
        throw new Error(`postgres exited at start with status ${child.exitCode}`);
      }
      const client = new pg.Client(this.url('postgres'));
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          await this.stop();
          throw error;
        }
        await sleep(100);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }

  /** Fast shutdown (SIGINT): open connections are terminated, as in a failover. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    await exited;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates a database of its own for one case and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client(this.url('postgres'));
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /** Runs one query in `database` and returns its rows. */
  async query<T extends object>(
    database: string,
    sql: string,
    values: unknown[] = [],
  ): Promise<T[]> {
    const client = new pg.Client(this.url(database));
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Stops the server and deletes the cluster. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.root, { recursive: true, force: true });
  }
}
