import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signup } from './support/accounts.js';
import { call, sessionFrom } from './support/http.js';
import { ServerProcess } from './support/server-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const asRoot = process.getuid?.() === 0;

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
  const clusterDirs: string[] = [];

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
  });

  it('sits in a folder that only its owner can enter', async () => {
    expect((await stat(work)).mode & 0o777).toBe(0o700);
  });

  it('starts with no DATABASE_URL and no REDIS_URL, and keeps a document', async () => {
    const server = await ServerProcess.spawn({
      script: join(repo, 'dist/main.js'),
      cwd: repo,
      env: { DATABASE_URL: undefined, REDIS_URL: undefined, DATA_DIR: undefined },
    });
    try {
      await server.waitUntilServing(120_000);
      const messages = server.logs().map((line) => String(line.msg));
      const clusterDir = /data in (\S+)\)/.exec(
        messages.find((m) => m.includes('listening on')) ?? '',
      )?.[1];
      if (clusterDir) clusterDirs.push(clusterDir);

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

  it('passes the process suite run from inside the clone', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('JEST_')),
    );
    const suite = await run('npm', ['test', '--', 'test/process.e2e-spec.ts'], repo, env);
    if (suite.code !== 0) throw new Error(`the process suite failed:\n${tail(suite.output)}`);
    expect(suite.output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
  }, 300_000);
});
