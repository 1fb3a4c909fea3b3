import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { login, signup, uniqueName } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call, type Reply } from './support/http.js';

/**
 * Every property of every JSON request body in the committed contract, set to null and to
 * each JSON type it does not have: each answer is a 400 problem naming the property. The
 * operations and properties come from openapi.json, so a new field is covered as it appears.
 */

interface Schema {
  type?: string;
  enum?: unknown[];
  example?: unknown;
  properties?: Record<string, Schema>;
  $ref?: string;
}

interface Operation {
  method: string;
  path: string;
  schema: Schema;
}

const openapi = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, Schema> } }>>;
  components: { schemas: Record<string, Schema> };
};

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  return openapi.components.schemas[schema.$ref.split('/').pop()!];
}

const OPERATIONS: Operation[] = Object.entries(openapi.paths).flatMap(([path, methods]) =>
  Object.entries(methods).flatMap(([method, operation]) => {
    const media = operation.requestBody?.content['application/json'] as
      { schema: Schema } | undefined;
    return media ? [{ method: method.toUpperCase(), path, schema: resolve(media.schema) }] : [];
  }),
);

/** One value of each JSON type, by the type's name in JSON Schema. */
const VALUES_BY_TYPE: Record<string, unknown[]> = {
  null: [null],
  number: [0, 1.5, -1],
  boolean: [true, false],
  string: ['', 'x'],
  object: [{}, { value: 'x' }],
  array: [[], ['x']],
};

/** The values that are not of `schema`'s type (a string outside an enum counts as one). */
function wrongValues(schema: Schema): unknown[] {
  const own = schema.type === 'integer' ? 'number' : (schema.type ?? 'none');
  const wrong = Object.entries(VALUES_BY_TYPE)
    .filter(([type]) => type !== own)
    .flatMap(([, values]) => values);
  if (schema.enum) wrong.push('not-one-of-the-values');
  return wrong;
}

/** A valid body for `schema`, from the examples of its properties. */
function validBody(schema: Schema): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    body[name] = name === 'username' ? uniqueName() : property.example;
  }
  return body;
}

/** What is wrong with `reply` to a body whose `field` was `value`; undefined when fine. */
function problemWith(reply: Reply, field: string | undefined): string | undefined {
  if (reply.status !== 400) return `status ${reply.status}: ${reply.text.slice(0, 200)}`;
  if (!String(reply.headers['content-type']).startsWith('application/problem+json')) {
    return `content-type ${String(reply.headers['content-type'])}`;
  }
  const problem = reply.body as { code?: unknown; detail?: unknown; errors?: unknown };
  if (typeof problem.code !== 'string') return `no code: ${reply.text.slice(0, 200)}`;
  if (field === undefined) return undefined;
  const said = JSON.stringify([problem.detail, problem.errors]);
  if (!new RegExp(`\\b${field}\\b`).test(said)) return `does not name ${field}: ${said}`;
  return undefined;
}

describe('request bodies with null and wrong types', () => {
  let server: RunningApp;
  let session: string;
  let documentId: string;

  beforeAll(async () => {
    server = await startApp();
    session = await login(server.url, await signup(server.url));
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'typed', content: 'original' },
    });
    documentId = created.body.id as string;
  });

  afterAll(async () => {
    await server.close();
  });

  it('finds the JSON bodies of the contract', () => {
    expect(OPERATIONS.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(
      expect.arrayContaining([
        'POST /auth/signup',
        'POST /auth/login',
        'POST /documents',
        'PATCH /documents/{id}',
        'PUT /users/me/password',
        'DELETE /users/me',
      ]),
    );
  });

  it('answers 400 naming the field to null and every wrong JSON type of every property', async () => {
    const failures: string[] = [];
    let sent = 0;
    for (const { method, path, schema } of OPERATIONS) {
      const url = path.replace('{id}', documentId);
      for (const [field, property] of Object.entries(schema.properties ?? {})) {
        for (const value of wrongValues(property)) {
          const body = { ...validBody(schema), [field]: value };
          const reply = await call(server.url, method, url, { session, body });
          sent += 1;
          const problem = problemWith(reply, field);
          if (problem)
            failures.push(`${method} ${path} ${field}=${JSON.stringify(value)}: ${problem}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    // Nothing of it was stored.
    const document = await call(server.url, 'GET', `/documents/${documentId}`, { session });
    expect(document.body).toMatchObject({ title: 'typed', content: 'original', version: 1 });
  });

  it('answers 400 to a body that is null, an array or a scalar on every operation', async () => {
    const failures: string[] = [];
    for (const { method, path } of OPERATIONS) {
      for (const rawBody of ['null', '[]', '[{}]', '"text"', '0', 'true']) {
        const url = path.replace('{id}', documentId);
        const reply = await call(server.url, method, url, { session, rawBody });
        const problem = problemWith(reply, undefined);
        if (problem) failures.push(`${method} ${path} ${rawBody}: ${problem}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('an empty body sent as JSON', () => {
  let server: RunningApp;
  let session: string;

  beforeAll(async () => {
    server = await startApp();
    session = await login(server.url, await signup(server.url));
  });

  afterAll(async () => {
    await server.close();
  });

  /** Clients with a global `Content-Type: application/json` send it on every request. */
  const asJson = (extra: Record<string, string> = {}) => ({
    rawBody: '',
    headers: { 'content-type': 'application/json', ...extra },
  });

  it('is no body on routes that take none', async () => {
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'to delete', content: 'x' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const read = await call(server.url, 'GET', `/documents/${id}`, { session, ...asJson() });
    expect(read.status).toBe(200);
    const deleted = await call(server.url, 'DELETE', `/documents/${id}`, { session, ...asJson() });
    expect(deleted.status).toBe(204);
    const gone = await call(server.url, 'GET', `/documents/${id}`, { session });
    expect(gone.status).toBe(404);

    const other = await login(server.url, await signup(server.url));
    const out = await call(server.url, 'POST', '/auth/logout', {
      session: other,
      ...asJson({ 'content-type': 'application/json; charset=utf-8' }),
    });
    expect(out.status).toBe(204);
    const after = await call(server.url, 'GET', '/users/me', { session: other });
    expect(after.status).toBe(401);
  });

  it('is a missing body, named as such, on routes that need one', async () => {
    const reply = await call(server.url, 'POST', '/documents', { session, ...asJson() });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('VALIDATION_FAILED');
    expect((reply.body.errors as string[]).join('\n')).toMatch(/title/);
    const login = await call(server.url, 'POST', '/auth/login', asJson());
    expect([login.status, login.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('is still malformed when it is only whitespace', async () => {
    const reply = await call(server.url, 'POST', '/documents', {
      session,
      rawBody: '  ',
      headers: { 'content-type': 'application/json' },
    });
    expect([reply.status, reply.body.code]).toEqual([400, 'MALFORMED_JSON']);
  });
});
