import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/net/free-port.js';
import { ServerProcess } from './support/server-process.js';

/** GET over a Unix domain socket. */
function getVia(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe('socket control', () => {
  const cleanup: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('serves on a Unix socket, replacing a stale socket file and removing it at exit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'docs-api-sock-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'api.sock');
    // A socket file whose server is gone, as a crash leaves it.
    const crashed = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await once(crashed.stdout, 'data');
    crashed.kill('SIGKILL');
    await once(crashed, 'exit');
    expect(existsSync(path)).toBe(true);

    const server = await ServerProcess.spawn({ env: { LISTEN_PATH: path, TRUST_PROXY: 'true' } });
    cleanup.push(() => server.stop());
    expect(await until(() => getVia(path, '/health/live'))).toBe(200);
    expect(await getVia(path, '/coffee')).toBe(418);

    server.signal('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a socket path that a running server holds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'docs-api-sock-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'busy.sock');
    const holder = createServer().listen(path);
    await once(holder, 'listening');
    cleanup.push(() => new Promise((resolve) => holder.close(resolve)));

    const server = await ServerProcess.spawn({ env: { LISTEN_PATH: path, TRUST_PROXY: 'true' } });
    cleanup.push(() => server.stop());
    expect((await server.exited).code).toBe(1);
    expect(server.logs().filter((line) => line.level === 'fatal')).toEqual([
      expect.objectContaining({
        phase: 'starting to listen',
        msg: `Start-up failed while starting to listen: LISTEN_PATH ${path} is in use by a running server`,
      }),
    ]);
  });

  const withPython = spawnSync('python3', ['--version']).status === 0 ? it : it.skip;
  withPython('accepts a listening socket handed over by a supervisor (LISTEN_FDS)', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'docs-api-fds-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    // What systemd does: open the socket, put it at fd 3, name this process, exec the server.
    const supervisor = join(dir, 'activate.py');
    await writeFile(
      supervisor,
      [
        'import os, socket, sys',
        's = socket.socket()',
        's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
        `s.bind(("127.0.0.1", ${port}))`,
        's.listen(16)',
        'os.dup2(s.fileno(), 3)',
        'os.set_inheritable(3, True)',
        'os.environ["LISTEN_FDS"] = "1"',
        'os.environ["LISTEN_PID"] = str(os.getpid())',
        'os.execv(sys.argv[1], sys.argv[1:])',
      ].join('\n'),
    );
    const child: ChildProcess = spawn('python3', [supervisor, process.execPath, 'dist/main.js'], {
      env: { ...process.env, PORT: '1', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit');
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });

    const response = await until(() => fetch(`http://127.0.0.1:${port}/health/live`));
    expect(response.status).toBe(200);
    expect(output).toContain('Listening on the inherited socket (fd 3)');
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  });

  it('caps open connections at MAX_CONNECTIONS', async () => {
    const server = await ServerProcess.start({ env: { MAX_CONNECTIONS: '2' } });
    cleanup.push(() => server.stop());
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.port }, () => resolve(socket));
        socket.once('error', reject);
      });
    const held = [await open(), await open()];
    await sleep(200);

    const third = await open();
    const closed = await Promise.race([
      once(third, 'close').then(() => true),
      sleep(2_000, false, { ref: false }),
    ]);
    expect(closed).toBe(true);

    held[0].destroy();
    await sleep(200);
    const response = await fetch(`${server.url}/health/live`);
    expect(response.status).toBe(200);
    held[1].destroy();
  });
});
