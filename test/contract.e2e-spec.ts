import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Contract, contract } from './support/contract.js';
import { ServerProcess } from './support/server-process.js';

const json = { 'content-type': 'application/json; charset=utf-8' };
const problemJson = { 'content-type': 'application/problem+json; charset=utf-8' };
const problem = (status: number, instance: string) =>
  JSON.stringify({
    type: 'about:blank',
    title: 'T',
    status,
    code: 'C',
    instance,
    requestId: 'r',
  });

describe('the contract check of e2e responses', () => {
  const judge = new Contract();
  const user = JSON.stringify({ userId: 1, username: 'ada', createdDate: null });

  it('accepts a response the contract describes', () => {
    expect(
      judge.check({ method: 'GET', url: '/users/me', status: 200, headers: json, body: user }),
    ).toEqual([]);
    const missing = problem(404, '/documents/x');
    expect(
      judge.check({
        method: 'GET',
        url: '/documents/0b6f1f8e-3c1e-4a57-9d7a-5f0d1a2b3c4d?x=1',
        status: 404,
        headers: problemJson,
        body: missing,
      }),
    ).toEqual([]);
  });

  it('rejects an undocumented status, a wrong media type and a body off the schema', () => {
    const [status] = judge.check({
      method: 'GET',
      url: '/users/me',
      status: 409,
      headers: problemJson,
      body: problem(409, '/users/me'),
    });
    expect(status).toMatch(/status 409 is not documented/);
    const [media] = judge.check({
      method: 'GET',
      url: '/users/me',
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: user,
    });
    expect(media).toMatch(/Content-Type text\/plain/);
    const [extra] = judge.check({
      method: 'GET',
      url: '/users/me',
      status: 200,
      headers: json,
      body: JSON.stringify({ userId: 1, username: 'ada', createdDate: null, passwordHash: 'x' }),
    });
    expect(extra).toMatch(/additional properties/);
    const [wrongType] = judge.check({
      method: 'GET',
      url: '/users/me',
      status: 200,
      headers: json,
      body: JSON.stringify({ userId: '1', username: 'ada', createdDate: null }),
    });
    expect(wrongType).toMatch(/userId must be number/);
  });

  it('rejects an unknown path answered with anything but a problem, and a bad header', () => {
    expect(
      judge.check({ method: 'GET', url: '/nope', status: 200, headers: json, body: '{}' }),
    ).toEqual([expect.stringMatching(/a path the contract does not have/)]);
    expect(
      judge.check({
        method: 'GET',
        url: '/nope',
        status: 404,
        headers: problemJson,
        body: problem(404, '/nope'),
      }),
    ).toEqual([]);
    const [retryAfter] = judge.check({
      method: 'GET',
      url: '/users/me',
      status: 429,
      headers: { ...problemJson, 'retry-after': 'soon' },
      body: problem(429, '/users/me'),
    });
    expect(retryAfter).toMatch(/Retry-After: soon/);
  });

  it('takes a 405 on a path that lacks the method, with the documented problem', () => {
    const reply = { status: 405, headers: { ...problemJson, allow: 'GET, HEAD, DELETE' } };
    expect(
      judge.check({ method: 'PATCH', url: '/users/me', body: problem(405, '/x'), ...reply }),
    ).toEqual([]);
    expect(
      judge.check({ method: 'PATCH', url: '/users/me', status: 200, headers: json, body: user }),
    ).toEqual([expect.stringMatching(/patch is not an operation of the path/)]);
  });

  it('refuses to pass a streamed body it cannot read', () => {
    expect(
      judge.check({
        method: 'GET',
        url: '/users/me',
        status: 200,
        headers: json,
        body: undefined,
      }),
    ).toEqual([expect.stringMatching(/streamed body/)]);
  });

  it('hears the responses of the built server run as a process', async () => {
    const server = await ServerProcess.start({ env: { LOG_LEVEL: 'silent' } });
    try {
      const before = contract.checked;
      const reply = await fetch(`${server.url}/users/me`);
      expect(reply.status).toBe(401);
      for (let waited = 0; contract.checked === before && waited < 5_000; waited += 50) {
        await sleep(50);
      }
      expect(contract.checked).toBe(before + 1);
    } finally {
      await server.stop();
    }
  });
});

describe('the committed contract', () => {
  const document = JSON.parse(
    readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'),
  ) as {
    paths: Record<
      string,
      Record<
        string,
        { responses?: Record<string, { content?: Record<string, { schema?: object }> }> }
      >
    >;
  };

  it('gives every JSON success response a schema that says what it holds', () => {
    const vague: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses ?? {})) {
          const schema = response.content?.['application/json']?.schema as
            Record<string, unknown> | undefined;
          if (!status.startsWith('2') || !schema) continue;
          // A bare object (or nothing) leaves every generator with an untyped map.
          const said =
            '$ref' in schema ||
            'properties' in schema ||
            'items' in schema ||
            'oneOf' in schema ||
            'anyOf' in schema ||
            'allOf' in schema ||
            (schema.type !== undefined && schema.type !== 'object');
          if (!said) vague.push(`${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    expect(vague).toEqual([]);
  });
});
