import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { login, signup } from '../support/accounts.js';
import { contract } from '../support/contract.js';
import { call, type Reply } from '../support/http.js';
import { TestRedis } from '../support/redis-server.js';
import { ServerProcess } from '../support/server-process.js';
import {
  hostileRequests,
  POLLUTION_MARKER,
  sendHttp,
  sendRaw,
  type HostileRequest,
  type Outcome,
} from './hostile-requests.js';

/** Replay a failure with HOSTILE_SEED=<the printed seed>; HOSTILE_RUNS changes the count. */
const SEED = Number(process.env.HOSTILE_SEED ?? 20_261_126);
const RUNS = Number(process.env.HOSTILE_RUNS ?? 10_000);
const CONCURRENCY = 16;
const BODY_LIMIT_BYTES = 1_048_576;

function report(line: string): void {
  process.stdout.write(`[hostile] ${line}\n`);
}

/** Traces of the implementation that an error body must never show. */
const LEAKS =
  /\bat [\w.<>]+ \(|node_modules|\/work\/|dist\/|\.[jt]s:\d+|QueryFailedError|TypeORM|SELECT |INSERT INTO|syntax error at|RangeError|TypeError/;

/** What is wrong with an answer; undefined when it is a fine answer to a hostile request. */
function problemWith(request: HostileRequest, outcome: Outcome): string | undefined {
  // Node closes a CONNECT (a proxy tunnel) at once when nothing serves tunnels: no answer due.
  if (request.method === 'CONNECT' && outcome.status === 0) return undefined;
  if (outcome.failure) return `transport: ${outcome.failure}`;
  if (outcome.status >= 500) return `status ${outcome.status}`;
  if (outcome.body.includes(POLLUTION_MARKER)) return 'the pollution marker came back';
  if (outcome.status < 400 || request.method === 'HEAD') return undefined;
  const type = String(outcome.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) {
    return `${outcome.status} with Content-Type "${type}": ${JSON.stringify(outcome.headers).slice(0, 300)} ${outcome.body.slice(0, 100)}`;
  }
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(outcome.body) as Record<string, unknown>;
  } catch {
    return `error body is not JSON: ${outcome.body.slice(0, 100)}`;
  }
  if (problem.status !== outcome.status || typeof problem.code !== 'string') {
    return `error body is not problem details: ${outcome.body.slice(0, 200)}`;
  }
  if (typeof problem.requestId !== 'string' || 'stack' in problem) {
    return `error body is not problem details: ${outcome.body.slice(0, 200)}`;
  }
  if (LEAKS.test(outcome.body)) return `error body leaks internals: ${outcome.body.slice(0, 300)}`;
  return undefined;
}

function describeRequest(request: HostileRequest): string {
  const head = `${request.via} ${request.method} ${request.path.slice(0, 120)}`;
  const headers =
    request.headers.length > 8
      ? `${request.headers.length} headers`
      : JSON.stringify(request.headers);
  const body = request.body ? JSON.stringify(request.body).slice(0, 200) : 'no body';
  return `${head} ${headers.slice(0, 300)} ${body}`;
}

/** Sends every request, `CONCURRENCY` at a time; returns the failures, described. */
async function sendAll(
  port: number,
  requests: HostileRequest[],
  tally: Map<string, number>,
): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const request = requests[next++];
      const outcome =
        request.via === 'raw' ? await sendRaw(port, request) : await sendHttp(port, agent, request);
      const problem = problemWith(request, outcome);
      const key = `${request.family} -> ${outcome.status || 'none'}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      if (problem) failures.push(`${problem}\n    for ${describeRequest(request)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    agent.destroy();
  }
  return failures;
}

const POISONED_BODIES = [
  '{"__proto__":{"polluted":"yes","isAdmin":true}}',
  '{"constructor":{"prototype":{"polluted":"yes","isAdmin":true}}}',
  '{"title":"t","content":"c","__proto__":{"polluted":"yes"}}',
  '{"a":{"b":{"__proto__":{"polluted":"yes"}}}}',
  '{"\\u005f_proto__":{"polluted":"yes"}}',
];

describe('hostile input', () => {
  let redis: TestRedis | undefined;
  let server: ServerProcess;
  let session: string;
  let ownDocument: string;

  beforeAll(async () => {
    if (TestRedis.available()) redis = await TestRedis.start();
    else report('redis-server is not on PATH: the server keeps its cache in memory');
    server = await ServerProcess.start({
      env: {
        REDIS_URL: redis?.url,
        RATE_LIMIT_MAX: '0',
        LOGIN_RATE_LIMIT_MAX: '1000000',
        BCRYPT_COST: '4',
        BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
        REQUEST_TIMEOUT_MS: '5000',
        // Only errors: a 500 is logged at error level, and 10,000 4xx lines are noise.
        LOG_LEVEL: 'error',
      },
    });
    session = await login(server.url, await signup(server.url));
    ownDocument = await createDocument(session, 'public');
  });

  afterAll(async () => {
    await server?.stop();
    await redis?.kill();
  });

  async function createDocument(sid: string, visibility: string): Promise<string> {
    const created = await call(server.url, 'POST', '/documents', {
      session: sid,
      body: { title: 'target', content: 'hostile target', visibility },
    });
    if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
    return created.body.id as string;
  }

  it('answers 10,000 generated hostile requests with no 5xx, reset, leak or pollution', async () => {
    const other = await login(server.url, await signup(server.url));
    const victim = await signup(server.url);
    const targets = {
      session,
      victimSessions: await Promise.all(Array.from({ length: 8 }, () => login(server.url, victim))),
      ownDocuments: [ownDocument, await createDocument(session, 'private')],
      otherDocuments: [
        await createDocument(other, 'public'),
        await createDocument(other, 'private'),
      ],
      bodyLimitBytes: BODY_LIMIT_BYTES,
    };
    report(
      `seed ${SEED} (replay: HOSTILE_SEED=${SEED}), ${RUNS} requests, ${CONCURRENCY} in flight`,
    );
    const requests = fc.sample(hostileRequests(targets), { seed: SEED, numRuns: RUNS });

    const started = performance.now();
    const tally = new Map<string, number>();
    const failures = await sendAll(server.port, requests, tally);
    const seconds = (performance.now() - started) / 1000;

    const statuses = new Map<string, number>();
    for (const [key, count] of tally) {
      const status = key.split(' -> ')[1];
      statuses.set(status, (statuses.get(status) ?? 0) + count);
    }
    const families = new Map<string, number>();
    for (const [key, count] of tally) {
      const family = key.split(' -> ')[0];
      families.set(family, (families.get(family) ?? 0) + count);
    }
    report(`${requests.length} requests in ${seconds.toFixed(1)} s, ${failures.length} failures`);
    report(
      `by status: ${[...statuses]
        .sort()
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ')}`,
    );
    report(
      `by family: ${[...families]
        .sort()
        .map(([f, n]) => `${f}: ${n}`)
        .join(', ')}`,
    );
    for (const failure of failures.slice(0, 20)) report(`FAIL ${failure}`);

    expect(failures).toEqual([]);
    expect(requests.length).toBeGreaterThanOrEqual(RUNS);
  });

  it('refuses poisoned keys on every JSON route with 400, and nothing is polluted after', async () => {
    const routes: [string, string][] = [
      ['POST', '/auth/signup'],
      ['POST', '/auth/login'],
      ['PUT', '/users/me/password'],
      ['DELETE', '/users/me'],
      ['POST', '/documents'],
      ['PATCH', `/documents/${ownDocument}`],
    ];
    const answers: Reply[] = [];
    for (const [method, path] of routes) {
      for (const rawBody of POISONED_BODIES) {
        const reply = await call(server.url, method, path, { session, rawBody });
        answers.push(reply);
        expect([reply.status, reply.body?.code]).toEqual([400, expect.any(String)]);
        expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
    report(`poisoned bodies: ${answers.length} answered 400`);

    // Ordinary traffic afterwards: objects come back with exactly their own keys.
    const me = await call(server.url, 'GET', '/users/me', { session });
    expect(me.status).toBe(200);
    expect(Object.keys(me.body).sort()).toEqual(['createdDate', 'userId', 'username']);
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'after', content: 'the storm', visibility: 'private' },
    });
    expect(created.status).toBe(201);
    const read = await call(server.url, 'GET', `/documents/${created.body.id}`, { session });
    const documentKeys = [
      'content',
      'contentType',
      'createdAt',
      'id',
      'ownerId',
      'title',
      'updatedAt',
      'version',
      'visibility',
    ];
    expect(Object.keys(created.body).sort()).toEqual(documentKeys);
    expect(Object.keys(read.body).sort()).toEqual(documentKeys);
    expect(read.body).toMatchObject({ title: 'after', content: 'the storm', version: 1 });
    const list = await call(server.url, 'GET', '/documents?limit=5', { session });
    expect(Object.keys(list.body).sort()).toEqual(['items', 'nextCursor']);
    const anonymous = await call(server.url, 'GET', '/users/me');
    expect(anonymous.status).toBe(401);
    for (const reply of [...answers, me, created, read, list, anonymous]) {
      expect(reply.text).not.toContain(POLLUTION_MARKER);
      expect(reply.text).not.toContain('isAdmin');
    }
  });

  it('is still alive and healthy, logged no error and kept the contract', async () => {
    const live = await call(server.url, 'GET', '/health/live');
    expect(live.status).toBe(200);
    const ready = await call(server.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    // Responses of the process arrive over a pipe: let the last ones land.
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The check matches the request target as sent; absolute-form (`http://host/path`) and
    // asterisk-form (`*`) targets, which only raw requests send, are not paths it knows.
    const violations = contract
      .drain()
      .filter((violation) => violation.split(' ')[1].startsWith('/'));
    // Levels are logged by name ("error"); a number is pino's default, kept for safety.
    const errors = server
      .logs()
      .filter(
        (line) => ['error', 'fatal'].includes(String(line.level)) || Number(line.level) >= 50,
      );
    report(
      `process alive, ${contract.checked} responses checked against openapi.json, ` +
        `${violations.length} violations, ${errors.length} error log lines, ` +
        `${server.stderr.length} stderr lines`,
    );
    for (const violation of violations.slice(0, 20)) report(`CONTRACT ${violation}`);
    for (const line of errors.slice(0, 5)) report(`LOG ${JSON.stringify(line).slice(0, 500)}`);
    expect(errors).toEqual([]);
    expect(server.stderr.filter((line) => /uncaught|unhandled|error/i.test(line))).toEqual([]);
    expect(violations).toEqual([]);
  });
});
