import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../src/app.setup.js';
import { PASSWORD, signup } from './support/accounts.js';
import { startApp, testConfig, type RunningApp } from './support/app.js';
import { call, sessionFrom } from './support/http.js';
import { ServerProcess } from './support/server-process.js';

/** GET over a Unix domain socket, as a local proxy forwarding for `client`. */
function getVia(socketPath: string, path: string, client: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, headers: { 'x-forwarded-for': client, connection: 'close' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('client identity on a Unix socket', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docs-api-identity-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start on LISTEN_PATH without TRUST_PROXY, in one line naming both', async () => {
    const server = await ServerProcess.spawn({
      env: { LISTEN_PATH: join(dir, 'refused.sock'), TRUST_PROXY: undefined },
    });
    try {
      const exit = await Promise.race([server.exited, sleep(20_000).then(() => 'still running')]);
      expect(exit).toEqual({ code: 1, signal: null });
      expect(server.stderr).toEqual([expect.stringMatching(/LISTEN_PATH.*TRUST_PROXY/)]);
    } finally {
      await server.stop();
    }
  });

  describe.each([['true'], ['1'], ['10.0.0.0/8,192.0.2.1']])('with TRUST_PROXY=%s', (trust) => {
    let app: NestFastifyApplication;
    let path: string;

    beforeAll(async () => {
      path = join(dir, `api-${trust.length}.sock`);
      const config = testConfig({
        REDIS_URL: '',
        RATE_LIMIT_MAX: '2',
        LISTEN_PATH: path,
        TRUST_PROXY: trust,
      });
      app = await createApp(config);
      await app.listen({ path });
    });

    afterAll(async () => {
      await app.close();
    });

    it('counts each forwarded client apart', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push(await getVia(path, '/coffee', '203.0.113.1'));
      expect(statuses).toEqual([418, 418, 429]);
      expect(await getVia(path, '/coffee', '203.0.113.2')).toBe(418);
    });
  });
});

describe('forwarded addresses behind a trusted proxy', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ env: { TRUST_PROXY: 'true' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it.each([
    ['markup', '<script>'],
    ['a 70-character value', 'x'.repeat(70)],
    ['an address with garbage around it', '198.51.100.7 evil'],
  ])('take the peer, not %s, as the address of a session', async (_case, forwarded) => {
    const account = await signup(server.url);
    const reply = await call(server.url, 'POST', '/auth/login', {
      body: { username: account.username, password: PASSWORD },
      headers: { 'x-forwarded-for': forwarded },
    });
    expect(reply.status).toBe(200);
    const sessions = await call(server.url, 'GET', '/auth/sessions', {
      session: sessionFrom(reply),
    });
    expect(sessions.body.items).toEqual([expect.objectContaining({ ip: '127.0.0.1' })]);
  });

  it('takes a valid forwarded address', async () => {
    const account = await signup(server.url);
    const reply = await call(server.url, 'POST', '/auth/login', {
      body: { username: account.username, password: PASSWORD },
      headers: { 'x-forwarded-for': '198.51.100.7' },
    });
    const sessions = await call(server.url, 'GET', '/auth/sessions', {
      session: sessionFrom(reply),
    });
    expect(sessions.body.items).toEqual([expect.objectContaining({ ip: '198.51.100.7' })]);
  });

  it('does not key the rate limit on a value that is not an address', async () => {
    const limited = await startApp({
      env: { REDIS_URL: '', RATE_LIMIT_MAX: '2', TRUST_PROXY: 'true' },
    });
    try {
      const statuses: number[] = [];
      for (const forwarded of ['<a>', '<b>', '<c>']) {
        const reply = await call(limited.url, 'GET', '/coffee', {
          localAddress: '127.0.10.1',
          headers: { 'x-forwarded-for': forwarded },
        });
        statuses.push(reply.status);
      }
      expect(statuses).toEqual([418, 418, 429]);
    } finally {
      await limited.close();
    }
  });
});
