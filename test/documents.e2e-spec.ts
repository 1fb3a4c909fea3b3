import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { login, signup } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call, type Reply } from './support/http.js';
import { TestRedis } from './support/redis-server.js';

const word = () => `w${randomBytes(6).toString('hex')}`;

/** A server with a Redis of its own when redis-server is available, else the memory cache. */
async function startWithOwnCache(env: Record<string, string> = {}) {
  const redis = TestRedis.available() ? await TestRedis.start() : undefined;
  if (!redis) process.stdout.write('documents suite: redis-server not on PATH, memory cache\n');
  const server = await startApp({ env: { REDIS_URL: redis?.url ?? '', ...env } });
  return { server, redis };
}

describe('documents', () => {
  let server: RunningApp;
  let redis: TestRedis | undefined;
  let url: string;
  let owner: string;
  let other: string;

  const create = async (body: Record<string, unknown>, session = owner): Promise<Reply> =>
    call(url, 'POST', '/documents', { session, body });

  beforeAll(async () => {
    ({ server, redis } = await startWithOwnCache());
    url = server.url;
    owner = await login(url, await signup(url));
    other = await login(url, await signup(url));
  });

  afterAll(async () => {
    await server.close();
    await redis?.kill();
  });

  describe('create, read, update, delete', () => {
    it('runs the whole cycle', async () => {
      const created = await create({ title: 'Notes', content: 'first draft' });
      expect(created.status).toBe(201);
      const document = created.body;
      expect(document).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        ownerId: expect.any(Number),
        title: 'Notes',
        content: 'first draft',
        contentType: 'text/plain',
        visibility: 'private',
        version: 1,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(created.headers.location).toBe(`/documents/${document.id}`);

      const read = await call(url, 'GET', `/documents/${document.id}`, { session: owner });
      expect(read.status).toBe(200);
      expect(read.body).toEqual(document);

      const patched = await call(url, 'PATCH', `/documents/${document.id}`, {
        session: owner,
        body: { content: 'second draft', visibility: 'public' },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        content: 'second draft',
        visibility: 'public',
        version: 2,
      });

      const deleted = await call(url, 'DELETE', `/documents/${document.id}`, { session: owner });
      expect(deleted.status).toBe(204);
      expect((await call(url, 'GET', `/documents/${document.id}`, { session: owner })).status).toBe(
        404,
      );
    });

    it('needs a session to create, change or delete', async () => {
      const { body } = await create({ title: 't', content: 'c', visibility: 'public' });
      expect(
        (await call(url, 'POST', '/documents', { body: { title: 't', content: 'c' } })).status,
      ).toBe(401);
      expect(
        (await call(url, 'PATCH', `/documents/${body.id}`, { body: { title: 'x' } })).status,
      ).toBe(401);
      expect((await call(url, 'DELETE', `/documents/${body.id}`)).status).toBe(401);
    });
  });

  describe('who sees what', () => {
    it('hides a private document from other users and anonymous clients, even when cached', async () => {
      const { body } = await create({ title: 'secret', content: 'only mine' });
      const first = await call(url, 'GET', `/documents/${body.id}`, { session: owner });
      const second = await call(url, 'GET', `/documents/${body.id}`, { session: owner });
      expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['MISS', 'HIT']);

      for (const session of [other, undefined]) {
        for (const path of [`/documents/${body.id}`, `/documents/${body.id}/raw`]) {
          const reply = await call(url, 'GET', path, { session });
          expect(reply.status).toBe(404);
          expect(reply.text).not.toContain('only mine');
        }
      }
    });

    it('shows a public document to everyone, and lets only its owner change it', async () => {
      const { body } = await create({ title: 'hello', content: 'for all', visibility: 'public' });
      expect((await call(url, 'GET', `/documents/${body.id}`)).status).toBe(200);
      expect((await call(url, 'GET', `/documents/${body.id}`, { session: other })).status).toBe(
        200,
      );

      const patch = await call(url, 'PATCH', `/documents/${body.id}`, {
        session: other,
        body: { title: 'mine now' },
      });
      expect(patch.status).toBe(403);
      expect(patch.body).toMatchObject({ code: 'NOT_OWNER' });
      expect((await call(url, 'DELETE', `/documents/${body.id}`, { session: other })).status).toBe(
        403,
      );
      expect((await call(url, 'GET', `/documents/${body.id}`)).body.title).toBe('hello');
    });

    it('answers 404 to another user who tries to change a private document', async () => {
      const { body } = await create({ title: 'private', content: 'x' });
      const patch = await call(url, 'PATCH', `/documents/${body.id}`, {
        session: other,
        body: { title: 'y' },
      });
      expect(patch.status).toBe(404);
      expect((await call(url, 'DELETE', `/documents/${body.id}`, { session: other })).status).toBe(
        404,
      );
    });
  });

  describe('the cache', () => {
    it('answers MISS, then HIT, and never the old version after a change', async () => {
      const { body } = await create({ title: 'v1', content: 'one', visibility: 'public' });
      const path = `/documents/${body.id}`;
      expect((await call(url, 'GET', path)).headers['x-cache']).toBe('MISS');
      expect((await call(url, 'GET', path)).headers['x-cache']).toBe('HIT');

      await call(url, 'PATCH', path, { session: owner, body: { title: 'v2' } });
      const after = await call(url, 'GET', path);
      expect(after.body).toMatchObject({ title: 'v2', version: 2 });
      expect(after.headers['x-cache']).toBe('MISS');
      expect((await call(url, 'GET', path)).body.title).toBe('v2');
    });

    it('forgets a deleted document at once', async () => {
      const { body } = await create({ title: 'gone', content: 'soon', visibility: 'public' });
      const path = `/documents/${body.id}`;
      await call(url, 'GET', path);
      expect((await call(url, 'GET', path)).headers['x-cache']).toBe('HIT');
      await call(url, 'DELETE', path, { session: owner });
      expect((await call(url, 'GET', path)).status).toBe(404);
      expect((await call(url, 'GET', `${path}/raw`)).status).toBe(404);
    });

    it('forgets the documents of a deleted account at once', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      const { body } = await create(
        { title: 'legacy', content: 'x', visibility: 'public' },
        session,
      );
      await call(url, 'GET', `/documents/${body.id}`);
      expect((await call(url, 'GET', `/documents/${body.id}`)).headers['x-cache']).toBe('HIT');

      await call(url, 'DELETE', '/users/me', { session, body: { password: account.password } });
      expect((await call(url, 'GET', `/documents/${body.id}`)).status).toBe(404);
    });

    describe.each([
      [
        'made private',
        (path: string) =>
          call(url, 'PATCH', path, { session: owner, body: { visibility: 'private' } }),
      ],
      ['deleted', (path: string) => call(url, 'DELETE', path, { session: owner })],
    ])('a document read through an upper-case id, then %s', (_, write) => {
      it('is 404 through every spelling of its id at once', async () => {
        const { body } = await create({ title: 'shouted', content: 'loud', visibility: 'public' });
        const upper = `/documents/${(body.id as string).toUpperCase()}`;
        await call(url, 'GET', upper);
        const cached = await call(url, 'GET', upper);
        expect(cached.status).toBe(200);
        expect(cached.headers['x-cache']).toBe('HIT');

        expect((await write(`/documents/${body.id}`)).status).toBeLessThan(300);
        for (const id of [body.id as string, (body.id as string).toUpperCase()]) {
          for (const path of [`/documents/${id}`, `/documents/${id}/raw`]) {
            const reply = await call(url, 'GET', path);
            expect({ path, status: reply.status }).toEqual({ path, status: 404 });
            expect(reply.text).not.toContain('loud');
          }
        }
      });
    });

    it('forgets a document read through an upper-case id when its owner is deleted', async () => {
      const account = await signup(url);
      const session = await login(url, account);
      const { body } = await create({ title: 'heir', content: 'x', visibility: 'public' }, session);
      const upper = `/documents/${(body.id as string).toUpperCase()}`;
      await call(url, 'GET', upper);
      expect((await call(url, 'GET', upper)).headers['x-cache']).toBe('HIT');

      await call(url, 'DELETE', '/users/me', { session, body: { password: account.password } });
      expect((await call(url, 'GET', upper)).status).toBe(404);
      expect((await call(url, 'GET', `${upper}/raw`)).status).toBe(404);
    });

    it('answers with the lower-case id, and keeps one cache entry, whatever the spelling', async () => {
      const { body } = await create({ title: 'one', content: 'x', visibility: 'public' });
      const id = body.id as string;
      const spellings = [id, id.toUpperCase(), id.slice(0, 18) + id.slice(18).toUpperCase()];
      for (const spelling of spellings) {
        const reply = await call(url, 'GET', `/documents/${spelling}`);
        expect(reply.body.id).toBe(id);
        expect(reply.headers.etag).toBe(`"${id}.1"`);
      }
      const patched = await call(url, 'PATCH', `/documents/${id.toUpperCase()}`, {
        session: owner,
        body: { title: 'two' },
      });
      expect(patched.body.id).toBe(id);
      expect(patched.headers.etag).toBe(`"${id}.2"`);
      for (const spelling of spellings) await call(url, 'GET', `/documents/${spelling}`);
      if (redis) {
        const client = new Redis(redis.url);
        const keys = await client.keys(`*${id.slice(0, 8)}*`).finally(() => client.disconnect());
        expect(keys.map((key) => key.toLowerCase())).toEqual(keys);
        expect(keys).toHaveLength(1);
      }
    });

    it('remembers briefly that an id does not exist', async () => {
      const path = `/documents/${randomUUID()}`;
      const first = await call(url, 'GET', path);
      const second = await call(url, 'GET', path);
      expect([first.status, second.status]).toEqual([404, 404]);
    });

    it('reads a cold document from PostgreSQL once for 50 concurrent requests', async () => {
      const { body } = await create({ title: 'hot', content: 'x', visibility: 'public' });
      const db = server.app.get(DataSource);
      const query = jest.spyOn(db, 'query');
      try {
        const replies = await Promise.all(
          Array.from({ length: 50 }, () => call(url, 'GET', `/documents/${body.id}`)),
        );
        expect(replies.every((reply) => reply.status === 200)).toBe(true);
        const loads = query.mock.calls.filter(
          ([sql, params]) =>
            /FROM documents WHERE document_id = \$1/.test(String(sql)) &&
            (params as unknown[])[0] === body.id,
        );
        expect(loads).toHaveLength(1);
      } finally {
        query.mockRestore();
      }
    });

    it('answers BYPASS when caching is turned off', async () => {
      const uncached = await startApp({ env: { CACHE_TTL_SECONDS: '0' } });
      try {
        const session = await login(uncached.url, await signup(uncached.url));
        const { body } = await call(uncached.url, 'POST', '/documents', {
          session,
          body: { title: 't', content: 'c' },
        });
        for (let i = 0; i < 2; i++) {
          const reply = await call(uncached.url, 'GET', `/documents/${body.id}`, { session });
          expect(reply.headers['x-cache']).toBe('BYPASS');
        }
      } finally {
        await uncached.close();
      }
    });
  });

  describe('conditional requests', () => {
    it('gives a strong ETag and 304 without a body for a matching If-None-Match', async () => {
      const { body, headers } = await create({ title: 't', content: 'c' });
      const etag = headers.etag as string;
      expect(etag).toMatch(/^"[^"]+"$/);
      const read = await call(url, 'GET', `/documents/${body.id}`, { session: owner });
      expect(read.headers.etag).toBe(etag);

      const cached = await call(url, 'GET', `/documents/${body.id}`, {
        session: owner,
        headers: { 'if-none-match': etag },
      });
      expect(cached.status).toBe(304);
      expect(cached.text).toBe('');

      await call(url, 'PATCH', `/documents/${body.id}`, { session: owner, body: { title: 'u' } });
      const changed = await call(url, 'GET', `/documents/${body.id}`, {
        session: owner,
        headers: { 'if-none-match': etag },
      });
      expect(changed.status).toBe(200);
      expect(changed.headers.etag).not.toBe(etag);
    });

    it('refuses a PATCH with a stale If-Match with 412, changing nothing', async () => {
      const { body, headers } = await create({ title: 'original', content: 'c' });
      const stale = headers.etag as string;
      const first = await call(url, 'PATCH', `/documents/${body.id}`, {
        session: owner,
        body: { title: 'first' },
        headers: { 'if-match': stale },
      });
      expect(first.status).toBe(200);

      const second = await call(url, 'PATCH', `/documents/${body.id}`, {
        session: owner,
        body: { title: 'second' },
        headers: { 'if-match': stale },
      });
      expect(second.status).toBe(412);
      expect(second.body).toMatchObject({ code: 'PRECONDITION_FAILED' });
      const now = await call(url, 'GET', `/documents/${body.id}`, { session: owner });
      expect(now.body).toMatchObject({ title: 'first', version: 2 });
    });
  });

  describe('raw serving', () => {
    it.each([
      ['text/plain', 'plain words\nline two'],
      ['text/markdown', '# Title\n\n*emphasis*'],
      ['application/json', '{"a":[1,2,3]}'],
      ['text/html', '<!doctype html><script>alert(1)</script><p>é</p>'],
    ])('serves %s content as stored, with its own type', async (contentType, content) => {
      const { body } = await create({ title: 'raw', content, contentType });
      const reply = await call(url, 'GET', `/documents/${body.id}/raw`, { session: owner });
      expect(reply.status).toBe(200);
      expect(reply.text).toBe(content);
      expect(reply.headers['content-type']).toBe(`${contentType}; charset=utf-8`);
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['x-cache']).toMatch(/^(MISS|HIT)$/);
      expect(reply.headers['content-security-policy']).toMatch(/^sandbox; default-src 'none'; /);
    });
  });

  describe('validation', () => {
    it.each([
      ['an empty title', { title: '', content: 'c' }, 'title'],
      ['a long title', { title: 'x'.repeat(201), content: 'c' }, 'title'],
      ['a missing content', { title: 't' }, 'content'],
      ['content over 512 KiB', { title: 't', content: 'x'.repeat(512 * 1024 + 1) }, 'content'],
      [
        'an unsupported contentType',
        { title: 't', content: 'c', contentType: 'image/png' },
        'contentType',
      ],
      ['an unknown visibility', { title: 't', content: 'c', visibility: 'friends' }, 'visibility'],
      ['a title of the wrong type', { title: 7, content: 'c' }, 'title'],
      ['an unknown field', { title: 't', content: 'c', ownerId: 1 }, 'ownerId'],
    ])('answers 400 naming the field for %s', async (_case, body, field) => {
      const reply = await create(body);
      expect(reply.status).toBe(400);
      expect((reply.body.errors as string[]).some((error) => error.includes(field))).toBe(true);
    });

    it('accepts content of exactly 512 KiB', async () => {
      expect((await create({ title: 't', content: 'x'.repeat(512 * 1024) })).status).toBe(201);
    });

    it('answers 413 for a body over BODY_LIMIT_BYTES', async () => {
      const reply = await create({ title: 't', content: 'x'.repeat(1_100_000) });
      expect(reply.status).toBe(413);
      expect(reply.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    });

    it('answers 400 for a malformed id', async () => {
      for (const path of ['/documents/123', '/documents/not-a-uuid/raw']) {
        const reply = await call(url, 'GET', path, { session: owner });
        expect(reply.status).toBe(400);
        expect(reply.body).toMatchObject({ code: 'INVALID_ID' });
      }
    });

    it('answers 400 for an empty change', async () => {
      const { body } = await create({ title: 't', content: 'c' });
      const reply = await call(url, 'PATCH', `/documents/${body.id}`, { session: owner, body: {} });
      expect(reply.status).toBe(400);
    });
  });

  describe('listing and search', () => {
    it('finds documents by a word in their content, and not private ones of others', async () => {
      const needle = word();
      const mine = await create({
        title: 'a',
        content: `some ${needle} text`,
        visibility: 'public',
      });
      const hidden = await create({ title: 'b', content: `also ${needle}` }, other);
      await create({ title: 'c', content: 'unrelated', visibility: 'public' });

      const reply = await call(url, 'GET', `/documents?q=${needle}`);
      expect(reply.status).toBe(200);
      expect(reply.body.items.map((item: { id: string }) => item.id)).toEqual([mine.body.id]);
      expect(reply.body.items[0].content).toBeUndefined();

      const asOther = await call(url, 'GET', `/documents?q=${needle}`, { session: other });
      expect(asOther.body.items.map((item: { id: string }) => item.id).sort()).toEqual(
        [mine.body.id, hidden.body.id].sort(),
      );
    });

    it('pages through 250 documents, each exactly once, while more are inserted', async () => {
      const needle = word();
      const created: string[] = [];
      for (let i = 0; i < 250; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: 25 }, (_, j) =>
            create({ title: `doc ${i + j}`, content: `${needle} ${i + j}`, visibility: 'public' }),
          ),
        );
        created.push(...batch.map((reply) => reply.body.id as string));
      }

      let inserting = true;
      const inserter = (async () => {
        while (inserting) {
          await create({ title: 'late', content: `${needle} late`, visibility: 'public' });
          await sleep(5);
        }
      })();
      const seen: string[] = [];
      let cursor: string | null = null;
      try {
        do {
          const query: string = `?q=${needle}&limit=17${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await call(url, 'GET', `/documents${query}`);
          expect(page.status).toBe(200);
          seen.push(...page.body.items.map((item: { id: string }) => item.id));
          cursor = page.body.nextCursor;
        } while (cursor);
      } finally {
        inserting = false;
        await inserter;
      }
      expect(new Set(seen).size).toBe(seen.length);
      const seenSet = new Set(seen);
      expect(created.filter((id) => !seenSet.has(id))).toEqual([]);
    });

    it.each([['?limit=0'], ['?limit=101'], ['?cursor=abc'], ['?q=']])(
      'answers 400 for %s',
      async (query) => {
        expect((await call(url, 'GET', `/documents${query}`)).status).toBe(400);
      },
    );
  });
});

const withRedis = TestRedis.available() ? describe : describe.skip;
if (!TestRedis.available()) process.stdout.write('SKIP cache outage: redis-server not on PATH\n');

withRedis('documents while Redis is down', () => {
  let server: RunningApp;
  let redis: TestRedis | undefined;
  let session: string;

  beforeAll(async () => {
    ({ server, redis } = await startWithOwnCache());
    session = await login(server.url, await signup(server.url));
  });

  afterAll(async () => {
    await server.close();
    await redis?.kill();
  });

  it('serves reads from PostgreSQL with BYPASS, keeps writes working, and recovers', async () => {
    const { url } = server;
    const { body } = await call(url, 'POST', '/documents', {
      session,
      body: { title: 'sturdy', content: 'c', visibility: 'public' },
    });
    const path = `/documents/${body.id}`;
    await call(url, 'GET', path);
    expect((await call(url, 'GET', path)).headers['x-cache']).toBe('HIT');

    await redis!.kill();
    for (let i = 0; i < 20; i++) {
      const reply = await call(url, 'GET', path);
      expect(reply.status).toBe(200);
      expect(reply.headers['x-cache']).toBe('BYPASS');
    }
    const patched = await call(url, 'PATCH', path, { session, body: { title: 'changed' } });
    expect(patched.status).toBe(200);
    const created = await call(url, 'POST', '/documents', {
      session,
      body: { title: 'n', content: 'c' },
    });
    expect(created.status).toBe(201);

    await redis!.restart();
    let outcome: string | undefined;
    for (let i = 0; i < 100 && outcome !== 'HIT'; i++) {
      const reply = await call(url, 'GET', path);
      expect(reply.status).toBe(200);
      expect(reply.body.title).toBe('changed');
      outcome = reply.headers['x-cache'] as string;
      if (outcome !== 'HIT') await sleep(100);
    }
    expect(outcome).toBe('HIT');
  });
});
