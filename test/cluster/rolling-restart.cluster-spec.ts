import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomInt } from 'node:crypto';
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../../src/common/net/free-port.js';
import { signup, login } from '../support/accounts.js';
import { call } from '../support/http.js';
import { TestRedis } from '../support/redis-server.js';
import { HaProxy, HAPROXY } from './haproxy.js';
import { PrivateBuild } from './build.js';
import { Instance, type Exit } from './instance.js';
import { Load, send, type PhaseCounts, type Written } from './load.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** How long a draining replica keeps serving while reporting 503; HAProxy needs ~0.5 s. */
const SHUTDOWN_DELAY_MS = 1_500;

/** Concurrent loops of each kind of request, each on its own keep-alive connection. */
const LOAD = { readers: 3, logins: 1, writers: 2 };

/** Budget of the rate-limit check, and its window (long enough for a dozen requests). */
const RATE_LIMIT_MAX = 10;

function log(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

/** The environment of a replica: one PostgreSQL, the suite's Redis, quiet, fast bcrypt. */
function replicaEnv(redisUrl: string, overrides: Record<string, string> = {}) {
  return {
    DATABASE_URL,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'warn',
    BCRYPT_COST: '4',
    SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
    SHUTDOWN_TIMEOUT_MS: '10000',
    // The load comes from one address (HAProxy's): its budgets must not be what is tested.
    RATE_LIMIT_MAX: '1000000',
    LOGIN_RATE_LIMIT_MAX: '1000000',
    ...overrides,
  };
}

async function startPair(
  build: PrivateBuild,
  env: Record<string, string>,
  names: [string, string],
) {
  const pair = await Promise.all(
    names.map(async (name) => new Instance(name, await freePort(), build.script, env)),
  );
  await Promise.all(pair.map((instance) => instance.start()));
  return pair;
}

function assertTestDatabase(): void {
  const name = new URL(DATABASE_URL).pathname.slice(1);
  if (!/test/i.test(name)) {
    throw new Error(`Refusing to run against database "${name}": its name must contain "test"`);
  }
}

function describeCounts(counts: PhaseCounts): string {
  const { read, list, login, write } = counts.ok;
  const total = read + list + login + write + counts.failed;
  return (
    `${total} requests (read ${read}, list ${list}, login ${login}, write ${write}), ` +
    `${counts.failed} failed, slowest ${counts.maxLatencyMs} ms`
  );
}

interface Restart {
  instance: string;
  exit: Exit;
  /** Milliseconds from SIGTERM until HAProxy marked the replica DOWN. */
  outMs: number;
  exitedMs: number;
  /** Until the new process answered /health/ready 200. */
  readyMs: number;
  /** Until HAProxy marked it UP again. */
  backMs: number;
  /** Requests HAProxy sent to the new process in the second after it came back. */
  servedAfter: number;
}

describe('two replicas behind HAProxy', () => {
  let build: PrivateBuild | undefined;
  let redis: TestRedis | undefined;
  let haproxy: HaProxy | undefined;
  let a: Instance;
  let b: Instance;
  const others: Instance[] = [];
  let load: Load | undefined;

  beforeAll(async () => {
    assertTestDatabase();
    if (!HaProxy.available()) {
      throw new Error(`${HAPROXY} cannot be run: install HAProxy (apt-get install haproxy)`);
    }
    if (!TestRedis.available()) {
      throw new Error('redis-server is not on PATH: install it (apt-get install redis-server)');
    }
    const building = Date.now();
    build = await PrivateBuild.make();
    log(`built in ${((Date.now() - building) / 1000).toFixed(1)} s`);
    redis = await TestRedis.start();
    [a, b] = await startPair(build, replicaEnv(redis.url), ['a', 'b']);
    haproxy = await HaProxy.start([a, b].map(({ name, port }) => ({ name, port })));
    await Promise.all([a, b].map(({ name }) => haproxy!.waitFor(name, (s) => s === 'UP')));
    log(`replicas a :${a.port}, b :${b.port}; HAProxy :${haproxy.port}; Redis :${redis.port}`);
  });

  afterAll(async () => {
    // Stopped here too when the test failed half-way, or its loops would keep Jest running.
    await load?.stop();
    await Promise.all([a, b, ...others].map((instance) => instance?.kill()));
    await haproxy?.stop();
    await redis?.kill();
    await build?.remove();
  });

  it('accepts a session created on one replica on the other, and ends it on both', async () => {
    const account = await signup(a.url);
    const session = await login(a.url, account);

    const me = await call(b.url, 'GET', '/users/me', { session });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ userId: account.userId, username: account.username });

    expect((await call(b.url, 'POST', '/auth/logout', { session, body: {} })).status).toBe(204);
    expect((await call(a.url, 'GET', '/users/me', { session })).status).toBe(401);
  });

  it('serves every request and keeps every write through two rolling restarts under load', async () => {
    const account = await signup(haproxy!.url);
    const session = await login(haproxy!.url, account);
    const seed = { title: 'read under load', content: 'the same bytes on every replica' };
    const created = await call(haproxy!.url, 'POST', '/documents', { session, body: seed });
    expect(created.status).toBe(201);
    load = new Load({
      baseUrl: haproxy!.url,
      account: { username: account.username, password: account.password },
      session,
      document: { id: (created.body as Written).id, ...seed },
    });

    const began = Date.now();
    load.start(LOAD);
    await sleep(2_000);
    log(`warm-up: ${describeCounts(load.counts('warm-up'))}`);
    const restarts: Restart[] = [];
    for (const [round, instance] of [
      [1, a],
      [1, b],
      [2, a],
      [2, b],
    ] as const) {
      const phase = `restart ${instance.name} (${round}/2)`;
      load.phase = phase;
      const phaseBegan = Date.now();
      const restart = await rollingRestart(haproxy!, instance);
      restarts.push(restart);
      log(
        `${phase}: ${((Date.now() - phaseBegan) / 1000).toFixed(1)} s; old process out of ` +
          `HAProxy after ${restart.outMs} ms, exited ${JSON.stringify(restart.exit)} after ` +
          `${restart.exitedMs} ms; new one ready after ${restart.readyMs} ms, back in HAProxy ` +
          `after ${restart.backMs} ms, then served ${restart.servedAfter} requests in 1 s; ` +
          describeCounts(load.counts(phase)),
      );
    }
    load.phase = 'cool-down';
    await sleep(1_000);
    await load.stop();
    log(`cool-down: ${describeCounts(load.counts('cool-down'))}`);

    const all = [...load.phases.values()];
    const total = all.reduce((sum, c) => sum + Object.values(c.ok).reduce((x, y) => x + y), 0);
    const failed = all.reduce((sum, c) => sum + c.failed, 0);
    log(
      `load: ${total} requests answered as expected, ${failed} failed, ` +
        `${load.written.length} documents written, in ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );
    const stats = await haproxy!.servers();
    log(`HAProxy: ${JSON.stringify(Object.fromEntries(stats))}`);
    // State changes of the servers, and any request HAProxy found abnormal (dontlog-normal).
    log(`HAProxy log:\n${haproxy!.log.join('\n')}`);

    expect(load.failures).toEqual([]);
    // Not even saved by a retry: HAProxy never met a refused connection or a cut response.
    for (const server of stats.values()) {
      expect(server).toMatchObject({
        connectionErrors: 0,
        responseErrors: 0,
        retries: 0,
        redispatches: 0,
      });
    }
    expect(
      haproxy!.log.filter((line) => !/^Server replicas\/\w+ is (UP|DOWN),/.test(line)),
    ).toEqual([]);
    for (const restart of restarts) {
      expect(restart.exit).toEqual({ code: 0, signal: null });
      // Taken out before the listener closed: no request can have met a closed port.
      expect(restart.outMs).toBeLessThan(SHUTDOWN_DELAY_MS);
      expect(restart.servedAfter).toBeGreaterThan(0);
    }
    for (const counts of all) expect(counts.ok.write).toBeGreaterThan(0);
    expect(await unreadable(load.written, [a, b], session)).toEqual([]);
    // Exactly the acknowledged writes and the seed: nothing lost, nothing written twice.
    expect(await documentCount(account.userId)).toBe(load.written.length + 1);

    const deleted = await call(haproxy!.url, 'DELETE', '/users/me', {
      session,
      body: { password: account.password },
    });
    expect(deleted.status).toBe(204);
  });

  describe('with a small rate-limit budget', () => {
    it('shares one budget per client between the replicas', async () => {
      others.push(
        ...(await startPair(
          build!,
          replicaEnv(redis!.url, {
            RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
            RATE_LIMIT_WINDOW_MS: '30000',
          }),
          ['c', 'd'],
        )),
      );
      const [c, d] = others;
      // A loopback address of this run's own, so no earlier hit is counted.
      const client = `127.0.${randomInt(2, 255)}.${randomInt(2, 255)}`;
      const remaining: number[] = [];
      for (let i = 1; i <= RATE_LIMIT_MAX; i++) {
        const reply = await call((i % 2 ? c : d).url, 'GET', '/', { localAddress: client });
        expect(reply.status).toBe(200);
        remaining.push(Number(/remaining=(\d+)/.exec(String(reply.headers.ratelimit))?.[1]));
      }
      // One count across both: 9, 8, ..., 0, not two interleaved counts of their own.
      expect(remaining).toEqual([...Array(RATE_LIMIT_MAX).keys()].reverse());
      for (const instance of [c, d]) {
        const refused = await call(instance.url, 'GET', '/', { localAddress: client });
        expect(refused.status).toBe(429);
        expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      const otherClient = `127.0.1.${randomInt(2, 255)}`;
      expect((await call(d.url, 'GET', '/', { localAddress: otherClient })).status).toBe(200);
    });
  });
});

/**
 * SIGTERM to one replica, as Kubernetes sends it, then a new process on the same port once
 * the old one has exited; done when HAProxy routes to the new process again.
 */
async function rollingRestart(haproxy: HaProxy, instance: Instance): Promise<Restart> {
  const began = Date.now();
  const since = () => Date.now() - began;
  const exited = instance.exited().then((exit) => ({ exit, exitedMs: since() }));
  instance.signal('SIGTERM');
  await haproxy.waitFor(instance.name, (status) => status.startsWith('DOWN'));
  const outMs = since();
  const { exit, exitedMs } = await exited;
  await instance.start();
  const readyMs = since();
  await haproxy.waitFor(instance.name, (status) => status === 'UP');
  const backMs = since();
  const before = (await haproxy.servers()).get(instance.name)!.total;
  await sleep(1_000);
  const servedAfter = (await haproxy.servers()).get(instance.name)!.total - before;
  return { instance: instance.name, exit, outMs, exitedMs, readyMs, backMs, servedAfter };
}

/** The acknowledged writes that are not readable, as written, on every replica. */
async function unreadable(written: Written[], replicas: Instance[], session: string) {
  const problems: string[] = [];
  const queue = written.map((document, i) => ({ document, replica: replicas[i % 2] }));
  const worker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { document, replica } = next;
      const reply = await send(agent, replica.url, 'GET', `/documents/${document.id}`, {
        session,
      });
      const body = reply.status === 200 ? (JSON.parse(reply.text) as Written) : undefined;
      if (body?.title !== document.title || body.content !== document.content) {
        problems.push(`${document.id} on ${replica.name}: ${reply.status} ${reply.text}`);
      }
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return problems;
}

async function documentCount(ownerId: number): Promise<number> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>(
      'SELECT count(*) FROM documents WHERE owner_id = $1',
      [ownerId],
    );
    return Number(result.rows[0].count);
  } finally {
    await client.end();
  }
}
