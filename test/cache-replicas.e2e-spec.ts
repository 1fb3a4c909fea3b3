import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { FENCE_TTL_MS, RedisCacheStore } from '../src/common/cache/cache-store.js';
import { login, signup, type Account } from './support/accounts.js';
import { call } from './support/http.js';
import { TestRedis } from './support/redis-server.js';
import { ServerProcess } from './support/server-process.js';

/**
 * Two replicas of the built server on one PostgreSQL and one Redis. One replica writes, the
 * other reads the same document as fast as it can, through both spellings of its id; once
 * the write is acknowledged, no read on either replica may return the state before it.
 */

const ITERATIONS = Number(process.env.CACHE_RACE_ITERATIONS ?? 510);
/** Iterations run at once, each on its own document (and account, for account deletion). */
const LANES = 6;
/** Concurrent read loops on the reading replica during each write. */
const READERS = 4;
/** How long reads go on after the acknowledgement. */
const AFTER_ACK_MS = 25;

type WriteKind = 'private' | 'delete' | 'account';
const KINDS: WriteKind[] = ['private', 'delete', 'account'];

interface Read {
  replica: 'reader' | 'writer';
  path: string;
  startedAt: number;
  status: number;
  cache?: string;
}

interface Outcome {
  kind: WriteKind;
  id: string;
  ackAt: number;
  reads: Read[];
}

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available()) process.stdout.write('SKIP cache replicas: redis-server not on PATH\n');

withRedis('the document cache across two replicas', () => {
  let redis: TestRedis;
  let writer: ServerProcess;
  let reader: ServerProcess;

  beforeAll(async () => {
    redis = await TestRedis.start();
    const env = { REDIS_URL: redis.url, BCRYPT_COST: '4', LOG_LEVEL: 'warn' };
    [writer, reader] = await Promise.all([
      ServerProcess.start({ env }),
      ServerProcess.start({ env }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([writer?.stop(), reader?.stop()]);
    await redis?.kill();
  });

  /** For a read loop: true once AFTER_ACK_MS have passed and two reads began after the ack. */
  function afterAck(ackAt: () => number): () => boolean {
    let reads = 0;
    return () => {
      const now = performance.now();
      if (now <= ackAt()) return false;
      return ++reads > 2 && now > ackAt() + AFTER_ACK_MS;
    };
  }

  /** Reads `id` through both spellings and both routes, in turn, until `until()` is true. */
  async function readLoop(
    server: ServerProcess,
    replica: Read['replica'],
    id: string,
    offset: number,
    agent: Agent,
    until: () => boolean,
  ): Promise<Read[]> {
    const reads: Read[] = [];
    for (let i = offset; !until(); i++) {
      const spelling = i % 2 === 0 ? id : id.toUpperCase();
      const path = `/documents/${spelling}${i % 4 >= 2 ? '/raw' : ''}`;
      const startedAt = performance.now();
      const { status, headers } = await call(server.url, 'GET', path, { agent });
      reads.push({ replica, path, startedAt, status, cache: headers['x-cache'] as string });
    }
    return reads;
  }

  /** One race: a public document, a read storm on one replica, a write on the other. */
  async function race(kind: WriteKind, owner: Account, session: string, agent: Agent) {
    const created = await call(writer.url, 'POST', '/documents', {
      session,
      agent,
      body: { title: 'race', content: 'before', visibility: 'public' },
    });
    const id = created.body.id as string;
    let ackAt = Infinity;
    const storm = Array.from({ length: READERS }, (_, n) =>
      readLoop(
        reader,
        'reader',
        id,
        n,
        agent,
        afterAck(() => ackAt),
      ),
    );
    await sleep(Math.random() * 6);
    const path = kind === 'account' ? '/users/me' : `/documents/${id}`;
    const written = await (kind === 'private'
      ? call(writer.url, 'PATCH', path, { session, agent, body: { visibility: 'private' } })
      : kind === 'delete'
        ? call(writer.url, 'DELETE', path, { session, agent })
        : call(writer.url, 'DELETE', path, { session, agent, body: { password: owner.password } }));
    ackAt = performance.now();
    expect([kind, written.status]).toEqual([kind, kind === 'private' ? 200 : 204]);
    const after = [
      readLoop(
        writer,
        'writer',
        id,
        0,
        agent,
        afterAck(() => ackAt),
      ),
      ...storm,
    ];
    const reads = (await Promise.all(after)).flat();
    return { kind, id, ackAt, reads } satisfies Outcome;
  }

  async function lane(lane: number, count: number): Promise<Outcome[]> {
    const agent = new Agent({ keepAlive: true, maxSockets: READERS + 2 });
    const outcomes: Outcome[] = [];
    try {
      let owner = await signup(writer.url);
      let session = await login(writer.url, owner);
      for (let i = 0; i < count; i++) {
        const kind = KINDS[(lane + i) % KINDS.length];
        outcomes.push(await race(kind, owner, session, agent));
        if (kind === 'account') {
          // The account is gone: the next races need an owner again.
          owner = await signup(writer.url);
          session = await login(writer.url, owner);
        }
      }
    } finally {
      agent.destroy();
    }
    return outcomes;
  }

  it(`serves no state older than an acknowledged write, in ${ITERATIONS} races`, async () => {
    const perLane = Math.ceil(ITERATIONS / LANES);
    const outcomes = (
      await Promise.all(Array.from({ length: LANES }, (_, n) => lane(n, perLane)))
    ).flat();

    const stale = outcomes.flatMap(({ kind, id, ackAt, reads }) =>
      reads
        .filter((read) => read.startedAt > ackAt && read.status !== 404)
        .map((read) => ({ kind, id, ...read, afterAckMs: Math.round(read.startedAt - ackAt) })),
    );
    const lowerCase = stale.filter((read) => !/[A-F]/.test(read.path));
    const readsAfterAck = outcomes.reduce(
      (sum, { ackAt, reads }) => sum + reads.filter((read) => read.startedAt > ackAt).length,
      0,
    );
    const racesWith = (reads: { id: string }[]) => new Set(reads.map((read) => read.id)).size;
    process.stdout.write(
      `cache replicas: ${outcomes.length} races, ${readsAfterAck} reads after the ack, ` +
        `${stale.length} stale in ${racesWith(stale)} races (by the lower-case id: ` +
        `${lowerCase.length} in ${racesWith(lowerCase)} races)\n`,
    );
    const hits = outcomes.reduce(
      (sum, { reads }) => sum + reads.filter((read) => read.cache === 'HIT').length,
      0,
    );
    process.stdout.write(`cache replicas: ${hits} reads served from the cache\n`);
    expect(hits).toBeGreaterThan(outcomes.length);
    expect(outcomes.length).toBeGreaterThanOrEqual(500);
    expect(readsAfterAck).toBeGreaterThanOrEqual(outcomes.length * (READERS + 1) * 2);
    expect(stale.slice(0, 5)).toEqual([]);

    // One key per document in Redis, however the reads spelled its id.
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('cache::document:*');
      const ids = keys.map((key) => key.slice('cache::document:'.length));
      expect(ids.filter((id) => id !== id.toLowerCase())).toEqual([]);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      client.disconnect();
    }
  }, 240_000);

  it('serves the committed state at once when a writer dies between its COMMIT and the cache', async () => {
    const owner = await signup(writer.url);
    const session = await login(writer.url, owner);
    const { body } = await call(writer.url, 'POST', '/documents', {
      session,
      body: { title: 'orphan', content: 'before', visibility: 'public' },
    });
    const path = `/documents/${body.id}`;
    await call(reader.url, 'GET', path);
    expect((await call(reader.url, 'GET', path)).headers['x-cache']).toBe('HIT');

    // What a replica does before its COMMIT, then the COMMIT, then nothing: it died.
    const client = new Redis(redis.url);
    const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      await new RedisCacheStore(client).beginWrite([`document:${body.id}`], 'dead-replica');
      await db.query(`UPDATE documents SET visibility = 'private' WHERE document_id = $1`, [
        body.id,
      ]);
      const fencedAt = performance.now();

      // Until the fence expires, every read on either replica goes to PostgreSQL.
      const outcomes = new Set<string>();
      let firstHitMs: number | undefined;
      while (firstHitMs === undefined && performance.now() - fencedAt < FENCE_TTL_MS * 2) {
        for (const server of [reader, writer]) {
          expect((await call(server.url, 'GET', path)).status).toBe(404);
          const own = await call(server.url, 'GET', path, { session });
          expect(own.body.visibility).toBe('private');
          outcomes.add(own.headers['x-cache'] as string);
          if (own.headers['x-cache'] === 'HIT') firstHitMs ??= performance.now() - fencedAt;
        }
        await sleep(100);
      }
      process.stdout.write(
        `cache replicas: cached again ${Math.round(firstHitMs!)} ms after a dead writer's fence\n`,
      );
      expect([...outcomes].sort()).toEqual(['HIT', 'MISS']);
      expect(firstHitMs).toBeGreaterThanOrEqual(FENCE_TTL_MS - 500);
      expect(firstHitMs).toBeLessThan(FENCE_TTL_MS + 2_000);
    } finally {
      client.disconnect();
      await db.end();
    }
  }, 60_000);
});
