import { afterEach, describe, expect, it } from '@jest/globals';
import { request as httpRequest, Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { drain } from '../src/common/http/graceful-shutdown.js';
import { startApp, type RunningApp } from './support/app.js';
import { SlowController } from './support/slow.controller.js';

describe('graceful shutdown', () => {
  let server: RunningApp | undefined;

  afterEach(async () => {
    await server?.close().catch(() => undefined);
    server = undefined;
  });

  it('lets an in-flight request finish, then stops accepting connections', async () => {
    server = await startApp({ controllers: [SlowController] });
    const { url } = server;
    const slow = fetch(`${url}/test/slow?ms=1500`);
    await sleep(200);

    const code = await drain(server.app, { delayMs: 0, timeoutMs: 10_000 }, 'SIGTERM');

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sleptMs: 1500 });
    expect(code).toBe(0);
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  });

  it('reports not ready during the shutdown delay while still serving requests', async () => {
    server = await startApp();
    const draining = drain(server.app, { delayMs: 1_000, timeoutMs: 5_000 }, 'SIGTERM');
    await sleep(100);

    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { lifecycle: { status: 'down' } } });
    expect((await fetch(`${server.url}/`)).status).toBe(200);

    expect(await draining).toBe(0);
  });

  it('closes idle keep-alive connections instead of waiting for them', async () => {
    server = await startApp();
    const agent = new Agent({ keepAlive: true });
    const { port } = new URL(server.url);
    const socketClosed = new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/health/live', agent }, (res) => {
        res.resume();
        res.on('end', () => req.socket?.once('close', () => resolve()));
      });
      req.end();
    });
    await sleep(100);

    const started = Date.now();
    expect(await drain(server.app, { delayMs: 0, timeoutMs: 10_000 }, 'SIGTERM')).toBe(0);
    await socketClosed;
    expect(Date.now() - started).toBeLessThan(5_000);
    agent.destroy();
  });

  it('cuts requests that outlast the budget and reports failure', async () => {
    server = await startApp({ controllers: [SlowController] });
    const slow = fetch(`${server.url}/test/slow?ms=20000`).then(
      (response) => response.status,
      () => 'cut',
    );
    await sleep(200);

    expect(await drain(server.app, { delayMs: 0, timeoutMs: 300 }, 'SIGTERM')).toBe(1);
    expect(await slow).toBe('cut');
  });
});
