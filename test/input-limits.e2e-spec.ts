import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { login, signup } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call, type CallOptions, type Reply } from './support/http.js';

/**
 * The work one request can cause is bounded by its size: bodies and query strings that are
 * cheap to send but costly to transform are refused before class-transformer sees them.
 * Costs are compared with a benign request of the same size, measured in the same run.
 */

/** `{"k0":0,"k1":0,...}` of about `bytes` bytes. */
function manyKeys(bytes: number, extra: Record<string, unknown> = {}): string {
  const keys: string[] = [];
  let size = JSON.stringify(extra).length;
  for (let i = 0; size < bytes; i++) {
    const pair = `"k${i}":0`;
    keys.push(pair);
    size += pair.length + 1;
  }
  const prefix = JSON.stringify(extra).slice(1, -1);
  return `{${prefix}${prefix ? ',' : ''}${keys.join(',')}}`;
}

async function timed(
  url: string,
  method: string,
  path: string,
  options: CallOptions,
): Promise<{ reply: Reply; ms: number }> {
  const started = performance.now();
  const reply = await call(url, method, path, options);
  return { reply, ms: performance.now() - started };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];

describe('bounded work per request', () => {
  let server: RunningApp;
  let session: string;

  beforeAll(async () => {
    server = await startApp();
    session = await login(server.url, await signup(server.url));
  });

  afterAll(async () => {
    await server.close();
  });

  /** The median time of `rounds` benign document creations whose bodies are about `bytes` long. */
  async function benignCreate(bytes: number, rounds = 3): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Each quote is escaped to two bytes: a body of up to 1 MiB for 512 KiB of content.
      const content = '"'.repeat(Math.floor((bytes - 40) / 2));
      const rawBody = JSON.stringify({ title: 'benign', content });
      const { reply, ms } = await timed(server.url, 'POST', '/documents', { session, rawBody });
      expect(reply.status).toBe(201);
      times.push(ms);
    }
    return median(times);
  }

  it('refuses a body of 40,000 unknown keys at the cost of a benign body of its size', async () => {
    const bytes = 500 * 1024;
    const hostile = manyKeys(bytes, { title: 't', content: 'c' });
    const refuse = async (): Promise<number> => {
      const { reply, ms } = await timed(server.url, 'POST', '/documents', {
        session,
        rawBody: hostile,
      });
      expect([reply.status, reply.body.code]).toEqual([400, 'BODY_TOO_COMPLEX']);
      expect(reply.body.detail).toMatch(/keys/);
      return ms;
    };
    // One of each first (code paths compiled), then alternating pairs: the machine's speed
    // drifts, and each pair sees the same drift.
    await benignCreate(bytes, 1);
    await refuse();
    const [benign, refused]: number[][] = [[], []];
    for (let i = 0; i < 7; i++) {
      benign.push(await benignCreate(bytes, 1));
      refused.push(await refuse());
    }
    // Today's transform takes seconds on such a body; the benign one tens of milliseconds.
    expect(median(refused)).toBeLessThan(3 * median(benign));
  });

  it('refuses wide arrays and many small objects by their node count', async () => {
    const wide = `{"title":"t","content":"c","tags":[${Array(100_000).fill('0').join(',')}]}`;
    const reply = await call(server.url, 'POST', '/documents', { session, rawBody: wide });
    expect([reply.status, reply.body.code]).toEqual([400, 'BODY_TOO_COMPLEX']);
    expect(reply.body.detail).toMatch(/values/);
    const objects = `{"title":"t","content":"c","x":[${Array(20_000).fill('{"a":1}').join(',')}]}`;
    const many = await call(server.url, 'POST', '/documents', { session, rawBody: objects });
    expect([many.status, many.body.code]).toEqual([400, 'BODY_TOO_COMPLEX']);
  });

  it('keeps /health/live answering while a 1 MiB body of 90,000 keys reaches sign-up', async () => {
    const hostile = manyKeys(1024 * 1024 - 100, { username: 'someone', password: 'x'.repeat(9) });
    const benign = await benignCreate(1024 * 1024 - 100);
    let done = false;
    const probes: number[] = [];
    const probing = (async () => {
      while (!done) {
        const { reply, ms } = await timed(server.url, 'GET', '/health/live', {});
        expect(reply.status).toBe(200);
        probes.push(ms);
      }
    })();
    const { reply, ms } = await timed(server.url, 'POST', '/auth/signup', { rawBody: hostile });
    done = true;
    await probing;
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    // Neither the refusal nor any probe waits longer than a benign body of that size takes.
    expect(ms).toBeLessThan(3 * benign);
    expect(Math.max(...probes)).toBeLessThan(3 * benign);
  });

  it('refuses a query string of a thousand parameters at once', async () => {
    const query = Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&');
    const reply = await call(server.url, 'GET', `/documents?${query}`, { session });
    expect([reply.status, reply.body.code]).toEqual([400, 'QUERY_TOO_COMPLEX']);
  });

  it('refuses a search of more than 200 characters with 400 naming q', async () => {
    const reply = await call(server.url, 'GET', `/documents?q=${'w '.repeat(150)}`, { session });
    expect(reply.status).toBe(400);
    expect(JSON.stringify(reply.body.errors)).toMatch(/\bq\b/);
    const fine = await call(server.url, 'GET', `/documents?q=${'-w "a b" or '.repeat(15)}`, {
      session,
    });
    expect(fine.status).toBe(200);
  });
});

/** Sends the head of a request that announces `length` bytes and only a few of them. */
function announceBody(
  url: string,
  method: string,
  path: string,
  length: number,
  session?: string,
): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method,
        path,
        headers: {
          'content-type': 'application/json',
          'content-length': String(length),
          ...(session ? { cookie: `sid=${session}` } : {}),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    req.on('error', reject);
    req.write('{"a":');
  });
}

describe('body limits per route', () => {
  let server: RunningApp;
  let session: string;

  beforeAll(async () => {
    server = await startApp({ env: { REQUEST_TIMEOUT_MS: '20000' } });
    session = await login(server.url, await signup(server.url));
  });

  afterAll(async () => {
    await server.close();
  });

  it.each([
    ['POST', '/auth/signup'],
    ['POST', '/auth/login'],
    ['PUT', '/users/me/password'],
    ['DELETE', '/users/me'],
  ])('answers 413 to %s %s announcing 64 KiB, before the body arrives', async (method, path) => {
    const started = performance.now();
    await expect(announceBody(server.url, method, path, 64 * 1024, session)).resolves.toBe(413);
    // Well before REQUEST_TIMEOUT_MS: the server did not wait for the body.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('answers 413 to a whole 1 MiB sign-in body without resetting the connection under it', async () => {
    const rawBody = JSON.stringify({ username: 'someone', password: 'p'.repeat(1000 * 1024) });
    const replies = await Promise.allSettled(
      Array.from({ length: 30 }, () => call(server.url, 'POST', '/auth/login', { rawBody })),
    );
    const outcomes = replies.map((outcome) =>
      outcome.status === 'fulfilled'
        ? `${outcome.value.status} ${outcome.value.body.code}`
        : String(outcome.reason),
    );
    expect(outcomes).toEqual(Array(30).fill('413 PAYLOAD_TOO_LARGE'));
  });

  it('answers 413 problem details to a 9 KiB sign-in body', async () => {
    const reply = await call(server.url, 'POST', '/auth/login', {
      body: { username: 'someone', password: 'p'.repeat(9 * 1024) },
    });
    expect([reply.status, reply.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('still takes document bodies up to BODY_LIMIT_BYTES', async () => {
    const reply = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'large', content: 'x'.repeat(400 * 1024) },
    });
    expect(reply.status).toBe(201);
  });
});

describe('a sign-in flood beyond the password hasher', () => {
  let server: RunningApp;

  beforeAll(async () => {
    // A cost at which a hash takes long enough for a queue to form.
    server = await startApp({ env: { BCRYPT_COST: '10' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers 503 HASHER_BUSY with Retry-After at once beyond the queue, and serves the rest', async () => {
    const account = await signup(server.url);
    const attempts = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const password = i % 2 === 0 ? account.password : 'wrong password';
        return timed(server.url, 'POST', '/auth/login', {
          body: { username: account.username, password },
        });
      }),
    );
    const busy = attempts.filter(({ reply }) => reply.status === 503);
    const served = attempts.filter(({ reply }) => reply.status === 200 || reply.status === 401);
    expect(busy.length + served.length).toBe(attempts.length);
    expect(busy.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    for (const { reply } of busy) {
      expect(reply.body).toMatchObject({ status: 503, code: 'HASHER_BUSY' });
      expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Refused without waiting: faster than the median of those that were served.
    expect(median(busy.map(({ ms }) => ms))).toBeLessThan(median(served.map(({ ms }) => ms)));
    // Afterwards the owner signs in as usual.
    await expect(login(server.url, account)).resolves.toEqual(expect.any(String));
  });
});
