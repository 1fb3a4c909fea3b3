import { Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../config/app-config.js';
import { freePort } from '../net/free-port.js';
import {
  EmbeddedPostgresError,
  OWN_POSTGRES,
  ownFolder,
  postgresBinaries,
  postgresUserIds,
  traversableBy,
  type EmbeddedPostgresClass,
} from './embedded-postgres-binaries.js';

export { EmbeddedPostgresError } from './embedded-postgres-binaries.js';

type EmbeddedPostgresInstance = InstanceType<EmbeddedPostgresClass>;

export interface EmbeddedPostgresOptions {
  /** Folder for the cluster and its credentials; `.data` by default. */
  dataDir: string;
  /** Database to create (once) and connect to. */
  database?: string;
  /** Delete the cluster on stop (test runs). */
  ephemeral?: boolean;
  /** Port on 127.0.0.1; a free one by default. */
  port?: number;
}

/** The instance per data folder that the server starts and its database module uses. */
const shared = new Map<string, EmbeddedPostgres>();

/**
 * A real PostgreSQL server run from the binaries in the `embedded-postgres` package, for the
 * zero-setup default. It listens on 127.0.0.1 only, on a free port, with a random password
 * kept beside the cluster, and keeps its data across restarts. Any failure to start is an
 * {@link EmbeddedPostgresError}: one line that says what to do.
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger(EmbeddedPostgres.name);
  private server?: EmbeddedPostgresInstance;
  private url?: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  /** This process's embedded PostgreSQL for `dataDir`. */
  static shared(dataDir: string): EmbeddedPostgres {
    const key = resolve(dataDir);
    let instance = shared.get(key);
    if (!instance) shared.set(key, (instance = new EmbeddedPostgres({ dataDir })));
    return instance;
  }

  /** Starts the cluster (creating it on first use) and returns its connection URL. */
  async start(): Promise<string> {
    if (this.url) return this.url;
    try {
      return await this.startCluster();
    } catch (error) {
      this.stopOnExit();
      this.server = undefined;
      process.removeListener('exit', this.stopOnExit);
      throw error instanceof ConfigError
        ? error
        : new EmbeddedPostgresError(
            `The embedded PostgreSQL did not start: ${oneLine(error)}; ${OWN_POSTGRES}`,
          );
    }
  }

  private async startCluster(): Promise<string> {
    const binaries = await postgresBinaries(this.logger);
    const root = resolve(this.options.dataDir);
    let clusterDir: string;
    let password: string;
    try {
      const reachable = await this.reachableRoot(root);
      clusterDir = join(reachable, 'postgres');
      password = await this.password(reachable);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new EmbeddedPostgresError(
        `The embedded PostgreSQL cannot keep its data in ${root}: ${oneLine(error)}; set DATA_DIR to a folder this user can write to, ${OWN_POSTGRES}`,
      );
    }
    const port = this.options.port ?? (await freePort());
    await stopStalePostmaster(clusterDir);

    const output: string[] = [];
    const server = new binaries.EmbeddedPostgres({
      databaseDir: clusterDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: !this.options.ephemeral,
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message) => {
        output.push(...String(message).split('\n'));
        output.splice(0, output.length - 50);
        this.logger.debug(String(message).trim());
      },
      onError: (error) => this.logger.error(error instanceof Error ? error.message : String(error)),
    });
    const fresh = !(await exists(join(clusterDir, 'PG_VERSION')));
    if (fresh) {
      this.logger.log(`Creating the embedded PostgreSQL cluster in ${clusterDir}`);
      await runBinaries(binaries.native, () => server.initialise()).catch((error: unknown) => {
        throw failure(error, output, `could not create its cluster in ${clusterDir}`, [
          `empty or remove that folder, or set DATA_DIR to another one`,
        ]);
      });
    }
    this.server = server;
    await runBinaries(binaries.native, () => server.start()).catch((error: unknown) => {
      throw failure(error, output, 'did not start', [
        /Address already in use/.test(output.join('\n'))
          ? `port ${port} on 127.0.0.1 is taken; start again to have another one chosen`
          : `check the cluster in ${clusterDir}, or set DATA_DIR to another folder`,
      ]);
    });
    process.on('exit', this.stopOnExit);
    const database = this.options.database ?? 'postgres';
    if (database !== 'postgres') await this.ensureDatabase(server, database);
    this.logger.log(`Embedded PostgreSQL listening on 127.0.0.1:${port} (data in ${clusterDir})`);
    this.url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    return this.url;
  }

  /** Stops the cluster with a fast shutdown; safe to call when it never started. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.url = undefined;
    process.removeListener('exit', this.stopOnExit);
    if (server) {
      await server.stop();
      this.logger.log('Embedded PostgreSQL stopped');
    }
  }

  /** Whatever ends the process, the cluster gets a fast shutdown rather than an orphan. */
  private readonly stopOnExit = (): void => {
    (this.server as unknown as { process?: ChildProcess } | undefined)?.process?.kill('SIGINT');
  };

  private async ensureDatabase(server: EmbeddedPostgresInstance, name: string): Promise<void> {
    const client = server.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0)
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
  }

  /** The cluster's password: made once, stored readable by this user only. */
  private async password(root: string): Promise<string> {
    const file = join(root, 'postgres.password');
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const password = randomBytes(24).toString('base64url');
    await mkdir(root, { recursive: true });
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }

  /**
   * PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user,
   * which must be able to reach the folder. A checkout under a private home folder is not
   * reachable; the cluster then lives in a folder of the system's temporary directory, which
   * must be this user's own.
   */
  private async reachableRoot(root: string): Promise<string> {
    if (userInfo().uid !== 0) return root;
    // Without a postgres user, embedded-postgres creates one, with no special access anywhere.
    const ids = postgresUserIds() ?? { uid: -1, gid: -1 };
    if (await traversableBy(root, ids)) return root;
    const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
    const fallback = join(tmpdir(), `embedded-postgres-${hash}`);
    this.logger.warn(
      `${root} is not reachable by the postgres user; keeping the embedded cluster in ${fallback}`,
    );
    await mkdir(fallback, { recursive: true, mode: 0o755 });
    await ownFolder(fallback);
    return fallback;
  }
}

/**
 * Runs `work`, a call into `embedded-postgres`, which starts the binaries in `native` without
 * listening for their `'error'` event: a binary that cannot be run (EACCES, ENOENT) would be
 * an unhandled error that ends the process. Here it fails `work` instead, with that error.
 */
export async function runBinaries<T>(native: string, work: () => Promise<T>): Promise<T> {
  let spawnError: NodeJS.ErrnoException | undefined;
  const watch = (message: unknown): void => {
    const child = (message as { process: ChildProcess }).process;
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.path?.startsWith(native + sep)) {
        spawnError ??= error;
      } else if (child.listenerCount('error') === 1) {
        process.nextTick(() => {
          throw error; // not one of ours, and nobody else listens: as unhandled as before
        });
      }
    };
    child.on('error', onError);
  };
  subscribe('child_process', watch);
  try {
    return await work();
  } catch (error) {
    throw spawnError ?? error;
  } finally {
    unsubscribe('child_process', watch);
  }
}

/** The line for a failed initdb or postgres run: what went wrong, then what to do. */
function failure(
  error: unknown,
  output: readonly string[],
  what: string,
  todo: string[],
): EmbeddedPostgresError {
  const spawn = error as NodeJS.ErrnoException | undefined;
  if (spawn?.syscall?.startsWith('spawn')) {
    return new EmbeddedPostgresError(
      `The embedded PostgreSQL ${what}: cannot run ${spawn.path} (${spawn.code}); reinstall with npm ci, ${OWN_POSTGRES}`,
    );
  }
  const message = error instanceof Error ? error.message : '';
  const reason = postgresError(output) ?? postgresError(message.split('\n'));
  return new EmbeddedPostgresError(
    `The embedded PostgreSQL ${what}${reason ? `: ${reason}` : ''}; ${[...todo, OWN_POSTGRES].join(', ')}`,
  );
}

/** How initdb and postgres report errors, most telling first. */
const ERROR_LINES = [
  /\b(?:FATAL|PANIC|ERROR):\s+(.+)$/,
  /\binitdb: error: (.+)$/,
  /^(?:\[STDERR\] )?postgres: (.+)$/,
];

/** The error that initdb or postgres reported in `lines`. */
function postgresError(lines: readonly string[]): string | undefined {
  for (const pattern of ERROR_LINES) {
    for (const line of lines) {
      const match = pattern.exec(line.trim());
      if (match) return oneLine(match[1]);
    }
  }
  return undefined;
}

/** An error's message on one line, and not too long. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * A cluster whose server outlived its parent (the parent was killed with SIGKILL) still holds
 * the data folder; stop it so that this start can take over. One whose parent is a live
 * Node.js process belongs to another running server, and is left alone.
 */
async function stopStalePostmaster(clusterDir: string): Promise<void> {
  const pidFile = await readFile(join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(pidFile.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || command(pid) !== 'postgres') return;
  const parent = Number(ps(pid, 'ppid'));
  if (parent > 1 && command(parent) === 'node') {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL in ${clusterDir} is in use by process ${parent}; stop that server, set DATA_DIR to another folder, ${OWN_POSTGRES}`,
    );
  }
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) await sleep(100);
}

function ps(pid: number, field: 'comm' | 'ppid'): string {
  try {
    return execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function command(pid: number): string {
  return ps(pid, 'comm');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path, fsConstants.F_OK).then(
    () => true,
    () => false,
  );
}
