import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { login, signup } from '../support/accounts.js';
import { call } from '../support/http.js';
import { ServerProcess } from '../support/server-process.js';

/** Connections that send their request head a byte at a time and never finish it. */
const SLOW_CONNECTIONS = 500;
/** The server's budget for a whole request; a few seconds so the case stays short. */
const REQUEST_TIMEOUT_MS = 6_000;
/**
 * Node checks the deadline once a second (connectionsCheckingInterval); the rest is for a
 * machine shared with other work.
 */
const END_MARGIN_MS = 4_000;
/** Requests of normal clients per measurement. */
const SAMPLES = 300;
/**
 * Loopback latencies are often under a millisecond, where scheduling noise alone is several
 * times the value: the unloaded p99 counts as at least this much, so the 5x bound tests the
 * server and not the jitter of a 2-core machine.
 */
const P99_FLOOR_MS = 5;
const MAX_SLOWDOWN = 5;

function report(line: string): void {
  process.stdout.write(`[slow-clients] ${line}\n`);
}

/** One GET over a fresh connection; resolves with its status and latency in ms. */
function timedGet(url: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url} in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

/** Normal clients: alternately the liveness probe and a public document, two at a time. */
async function measure(urls: string[]): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < SAMPLES) {
      const url = urls[next++ % urls.length];
      const { status, ms } = await timedGet(url);
      if (status !== 200) throw new Error(`${url} answered ${status}`);
      latencies.push(ms);
    }
  };
  await Promise.all([client(), client()]);
  return latencies;
}

interface SlowConnection {
  socket: Socket;
  openedAt: number;
  endedAt?: number;
  received: string;
  ended: Promise<void>;
}

const SLOW_HEAD = 'GET /documents HTTP/1.1\r\nHost: slow\r\nX-Slow: ' + 'a'.repeat(4_000);

/** Opens a connection that sends one more byte of a head that never ends, every second. */
function openSlow(port: number): Promise<SlowConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const connection: SlowConnection = {
      socket,
      openedAt: 0,
      received: '',
      ended: new Promise((done) => socket.once('close', () => done())),
    };
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (connection.received += chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      connection.endedAt = performance.now();
      clearInterval(timer);
    });
    socket.once('connect', () => {
      connection.openedAt = performance.now();
      socket.write(SLOW_HEAD[sent++]);
      // A random phase, so the 500 connections do not all write in the same tick.
      setTimeout(() => {
        timer = setInterval(() => {
          if (!socket.destroyed && sent < SLOW_HEAD.length) socket.write(SLOW_HEAD[sent++]);
        }, 1_000);
      }, Math.random() * 1_000).unref();
      resolve(connection);
    });
    socket.once('error', reject);
  });
}

describe('slow clients', () => {
  let server: ServerProcess;
  const slow: SlowConnection[] = [];
  let urls: string[];

  beforeAll(async () => {
    // The default MAX_CONNECTIONS is 0 (no cap), so 500 held sockets take nothing from
    // others; the process inherits this one's open-file limit (20000 in CI).
    server = await ServerProcess.start({
      env: {
        REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        REDIS_URL: undefined,
        LOG_LEVEL: 'warn',
        BCRYPT_COST: '4',
      },
    });
    const session = await login(server.url, await signup(server.url));
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'public', content: 'read by normal clients', visibility: 'public' },
    });
    expect(created.status).toBe(201);
    urls = [`${server.url}/health/live`, `${server.url}/documents/${created.body.id}`];
  });

  afterAll(async () => {
    for (const connection of slow) connection.socket.destroy();
    await server?.stop();
  });

  it('serves normal clients while 500 connections dribble their headers, then cuts those', async () => {
    await measure(urls.slice(0, 20)); // warm-up: JIT, connection pool, document cache
    const unloaded = await measure(urls);

    for (let i = 0; i < SLOW_CONNECTIONS; i += 50) {
      const batch = Array.from({ length: 50 }, () => openSlow(server.port));
      slow.push(...(await Promise.all(batch)));
    }
    await sleep(1_000); // every slow connection has sent a few bytes
    const openBefore = slow.filter((c) => c.endedAt === undefined).length;
    const loaded = await measure(urls);
    const openAfter = slow.filter((c) => c.endedAt === undefined).length;

    await within(Promise.all(slow.map((c) => c.ended)), REQUEST_TIMEOUT_MS + END_MARGIN_MS + 2_000);
    // The baseline again, now that the slow connections are gone: the machine is shared, and
    // the higher of the two unloaded measurements is its honest latency at this time.
    const unloadedAgain = await measure(urls);
    const lifetimes = slow.map((c) => (c.endedAt ?? Infinity) - c.openedAt);
    const with408 = slow.filter((c) => /^HTTP\/1\.1 408 /.test(c.received)).length;
    const closedOnly = slow.filter((c) => c.endedAt !== undefined && c.received === '').length;
    const longest = Math.max(...lifetimes);

    const unloadedP99 = Math.max(p99(unloaded), p99(unloadedAgain));
    const loadedP99 = p99(loaded);
    const bound = MAX_SLOWDOWN * Math.max(unloadedP99, P99_FLOOR_MS);
    report(
      `normal clients: ${unloaded.length} requests unloaded p99 ${p99(unloaded).toFixed(2)} ms ` +
        `(again after: ${p99(unloadedAgain).toFixed(2)} ms), ` +
        `${loaded.length} with ${SLOW_CONNECTIONS} slow connections open p99 ${loadedP99.toFixed(2)} ms ` +
        `(bound ${bound.toFixed(1)} ms)`,
    );
    report(
      `slow connections: ${slow.length} opened, ${openBefore} open before and ${openAfter} after ` +
        `the loaded measurement, ${with408} answered 408, ${closedOnly} closed without an answer, ` +
        `longest lived ${longest.toFixed(0)} ms (REQUEST_TIMEOUT_MS ${REQUEST_TIMEOUT_MS})`,
    );

    expect(openBefore).toBe(SLOW_CONNECTIONS);
    expect(openAfter).toBe(SLOW_CONNECTIONS);
    expect(loadedP99).toBeLessThan(bound);
    expect(lifetimes.filter((ms) => ms > REQUEST_TIMEOUT_MS + END_MARGIN_MS)).toEqual([]);
    expect(with408 + closedOnly).toBe(SLOW_CONNECTIONS);
    // The 408 is problem details like every other error.
    const answered = slow.find((c) => c.received.startsWith('HTTP/1.1 408'));
    expect(answered?.received).toMatch(/content-type: application\/problem\+json/i);
    expect((await timedGet(urls[0])).status).toBe(200);
  });
});
