import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cookieJar, type CookieJar } from '../sdk/src/cookie-jar.js';
import { createDocsApiClient, type DocsApiClient } from '../sdk/src/index.js';
import { PASSWORD, uniqueName } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';

/** The main flows, through nothing but the generated SDK. */
describe('the generated SDK', () => {
  let server: RunningApp;
  let jar: CookieJar;
  let api: DocsApiClient;
  const username = uniqueName('sdk');

  beforeAll(async () => {
    server = await startApp();
    jar = cookieJar();
    api = createDocsApiClient({ baseUrl: server.url, fetch: jar.fetch });
  });

  afterAll(async () => {
    await server.close();
  });

  it('signs up, logs in, and knows who is signed in', async () => {
    const signup = await api.POST('/auth/signup', { body: { username, password: PASSWORD } });
    expect(signup.response.status).toBe(201);
    expect(signup.data?.username).toBe(username);

    const taken = await api.POST('/auth/signup', { body: { username, password: PASSWORD } });
    expect(taken.response.status).toBe(409);
    expect(taken.error?.code).toBe('USERNAME_TAKEN');

    const anonymous = await api.GET('/users/me');
    expect(anonymous.response.status).toBe(401);

    const login = await api.POST('/auth/login', { body: { username, password: PASSWORD } });
    expect(login.response.status).toBe(200);
    expect(jar.get('sid')).toEqual(expect.any(String));

    const me = await api.GET('/users/me');
    expect(me.data).toEqual({
      userId: signup.data?.userId,
      username,
      createdDate: expect.any(String),
    });
  });

  it('creates, reads, lists, updates and deletes a document', async () => {
    const created = await api.POST('/documents', {
      body: { title: 'From the SDK', content: '# Hello', contentType: 'text/markdown' },
    });
    expect(created.response.status).toBe(201);
    const id = created.data!.id;
    expect(created.response.headers.get('location')).toBe(`/documents/${id}`);

    const read = await api.GET('/documents/{id}', { params: { path: { id } } });
    expect(read.data).toMatchObject({ id, title: 'From the SDK', version: 1 });
    const etag = read.response.headers.get('etag')!;

    const unchanged = await api.GET('/documents/{id}', {
      params: { path: { id }, header: { 'If-None-Match': etag } },
    });
    expect(unchanged.response.status).toBe(304);

    const raw = await api.GET('/documents/{id}/raw', { params: { path: { id } }, parseAs: 'text' });
    expect(raw.data).toBe('# Hello');
    expect(raw.response.headers.get('content-type')).toMatch(/^text\/markdown/);

    const list = await api.GET('/documents', { params: { query: { limit: 5 } } });
    expect(list.data?.items.map((item) => item.id)).toContain(id);

    const updated = await api.PATCH('/documents/{id}', {
      params: { path: { id }, header: { 'If-Match': etag } },
      body: { title: 'Renamed' },
    });
    expect(updated.data).toMatchObject({ id, title: 'Renamed', version: 2 });

    const stale = await api.PATCH('/documents/{id}', {
      params: { path: { id }, header: { 'If-Match': etag } },
      body: { title: 'Lost update' },
    });
    expect(stale.response.status).toBe(412);
    expect(stale.error?.status).toBe(412);

    const removed = await api.DELETE('/documents/{id}', { params: { path: { id } } });
    expect(removed.response.status).toBe(204);
    const gone = await api.GET('/documents/{id}', { params: { path: { id } } });
    expect(gone.response.status).toBe(404);
    expect(gone.error?.code).toEqual(expect.any(String));
  });

  it('refuses a bad body with a problem, and changes nothing', async () => {
    const before = await api.GET('/documents', { params: { query: { limit: 100 } } });
    const bad = await api.POST('/documents', {
      body: { title: '', content: 'x' },
    });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.errors).toEqual(expect.arrayContaining([expect.stringMatching(/title/)]));
    const after = await api.GET('/documents', { params: { query: { limit: 100 } } });
    expect(after.data?.items).toEqual(before.data?.items);
  });

  it('lists sessions, logs out, and the cookie stops working', async () => {
    const sessions = await api.GET('/auth/sessions');
    expect(sessions.data?.items.filter((session) => session.current)).toHaveLength(1);

    const logout = await api.POST('/auth/logout');
    expect(logout.response.status).toBe(204);
    const me = await api.GET('/users/me');
    expect(me.response.status).toBe(401);
  });
});
