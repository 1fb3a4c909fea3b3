import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import {
  EmbeddedPostgres,
  EmbeddedPostgresError,
  runBinaries,
} from '../src/common/database/embedded-postgres.js';
import { postgresUserIds } from '../src/common/database/embedded-postgres-binaries.js';
import { ServerProcess } from './support/server-process.js';

const ZERO_SETUP = { DATABASE_URL: undefined, REDIS_URL: undefined };

/** A data folder the cluster's owner (the postgres user, as root) can use. */
async function dataFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'docs-api-embedded-'));
  await chmod(dir, 0o755);
  return dir;
}

/** Hands `path` to the user the cluster runs as (the postgres user, as root). */
async function giveToClusterOwner(path: string): Promise<void> {
  const ids = userInfo().uid === 0 ? postgresUserIds() : undefined;
  if (ids) await chown(path, ids.uid, ids.gid);
}

/**
 * What a failed start may write to stdout: the JSON lines of start-up ("Creating the embedded
 * PostgreSQL cluster in ...", the warning that names a binaries copy), never the database's
 * own output, and no error: the error is the one line on stderr.
 */
function expectOnlyProgress(stdout: string[]): void {
  for (const line of stdout) {
    expect(JSON.parse(line)).toMatchObject({ level: expect.stringMatching(/^(info|debug|warn)$/) });
  }
}

describe('a failure of the embedded PostgreSQL', () => {
  const cleanup: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('stops the start with one line that says what to do when the cluster cannot be created', async () => {
    const dataDir = await dataFolder();
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    await mkdir(join(dataDir, 'postgres'));
    await writeFile(join(dataDir, 'postgres', 'left-over'), 'not a cluster\n');

    const server = await ServerProcess.spawn({ env: { ...ZERO_SETUP, DATA_DIR: dataDir } });

    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toEqual([
      expect.stringMatching(
        /^The embedded PostgreSQL could not create its cluster in .*: directory .* exists but is not empty; .*DATA_DIR.*DATABASE_URL/,
      ),
    ]);
    expectOnlyProgress(server.stdout);
  });

  it('stops the start with one line that says what to do when the cluster does not start', async () => {
    const dataDir = await dataFolder();
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const clusterDir = join(dataDir, 'postgres');
    await mkdir(clusterDir, { mode: 0o700 });
    await writeFile(join(clusterDir, 'PG_VERSION'), '18\n'); // a cluster with nothing else
    await giveToClusterOwner(clusterDir);

    const server = await ServerProcess.spawn({ env: { ...ZERO_SETUP, DATA_DIR: dataDir } });

    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toEqual([
      expect.stringMatching(
        /^The embedded PostgreSQL did not start: .*postgresql\.conf.*; check the cluster in .*DATA_DIR.*DATABASE_URL/,
      ),
    ]);
    expectOnlyProgress(server.stdout);
  });

  it('names a port that another program holds, and asks for another start', async () => {
    const dataDir = await dataFolder();
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const holder: Server = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    cleanup.push(() => new Promise((resolve) => holder.close(resolve)));
    const port = (holder.address() as { port: number }).port;
    const postgres = new EmbeddedPostgres({ dataDir, port, ephemeral: true });
    cleanup.push(() => postgres.stop());

    const failure = await postgres.start().then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(EmbeddedPostgresError);
    const message = (failure as Error).message;
    expect(message).toMatch(
      new RegExp(
        `^The embedded PostgreSQL did not start: .*; port ${port} on 127\\.0\\.0\\.1 is taken; start again`,
      ),
    );
    expect(message).not.toContain('\n');
  });

  it('turns a PostgreSQL binary that cannot be run into a rejection, not an unhandled error', async () => {
    const native = await mkdtemp(join(tmpdir(), 'docs-api-no-binaries-'));
    cleanup.push(() => rm(native, { recursive: true, force: true }));
    const missing = join(native, 'bin', 'postgres');

    const run = runBinaries(native, async () => {
      const child = spawn(missing, ['-D', native]); // no 'error' listener, as embedded-postgres
      await once(child, 'close');
      throw new Error('postgres exited');
    });

    await expect(run).rejects.toMatchObject({ code: 'ENOENT', path: missing });
  });
});
