import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request } from 'node:http';
import { Worker } from 'node:worker_threads';
import { login, signup } from '../support/accounts.js';
import { call } from '../support/http.js';
import { ServerProcess } from '../support/server-process.js';
import { serve } from './support/fixtures.js';
import { loops, report, Tally } from './support/load.js';

/**
 * Hostile bodies under load: cheap to send, costly to process if nothing bounds them. Each is
 * just under its route's body limit, sent from several connections for DURATION_MS while a
 * probe on a thread of its own measures `/health/live`.
 */

const DURATION_MS = Number(process.env.HOSTILE_LOAD_MS ?? 10_000);
const CONNECTIONS = 4;
/** Each hostile body is sent at least this often, even if that takes longer than DURATION_MS. */
const MIN_SAMPLES = 3;
const MAX_DURATION_MS = 90_000;
const BODY_LIMIT_BYTES = 1_048_576;
/** The limit of the sign-in and account routes (SMALL_BODY_LIMIT_BYTES). */
const SMALL_LIMIT_BYTES = 8 * 1024;

/** The families of hostile bodies, each rendered to about `bytes` bytes. */
const FAMILIES: Record<string, (bytes: number, base: Record<string, unknown>) => string> = {
  'many keys': (bytes, base) => fill(bytes, base, (i) => `"k${i}":0`),
  'wide array': (bytes, base) => `{${inner(base)},"list":[${fillList(bytes, () => '0')}]}`,
  'many strings': (bytes, base) => `{${inner(base)},"list":[${fillList(bytes, () => '"s"')}]}`,
  'many objects': (bytes, base) => `{${inner(base)},"list":[${fillList(bytes, () => '{}')}]}`,
  'long string': (bytes, base) => {
    const [first] = Object.keys(base);
    return JSON.stringify({ ...base, [first]: 'x'.repeat(bytes - 100) });
  },
  'long unknown string': (bytes, base) =>
    JSON.stringify({ ...base, extra: 'x'.repeat(bytes - 100) }),
  'deep nesting': (bytes) => '['.repeat(bytes / 2 - 1) + ']'.repeat(bytes / 2 - 1),
};

function inner(base: Record<string, unknown>): string {
  return JSON.stringify(base).slice(1, -1);
}

function fillList(bytes: number, item: () => string): string {
  const one = item();
  return Array<string>(Math.floor((bytes - 200) / (one.length + 1)))
    .fill(one)
    .join(',');
}

function fill(bytes: number, base: Record<string, unknown>, pair: (i: number) => string): string {
  const pairs: string[] = [];
  let size = 200;
  for (let i = 0; size < bytes; i++) {
    const next = pair(i);
    pairs.push(next);
    size += next.length + 1;
  }
  return `{${inner(base)},${pairs.join(',')}}`;
}

interface Route {
  method: string;
  path: string;
  limit: number;
  /** A valid body, the base of the hostile ones. */
  base: Record<string, unknown>;
}

interface Sent {
  status: number;
  /** X-Response-Time: the server's own time for the request, parsing included. */
  serverMs: number;
  code?: string;
}

/** Sends `body` as JSON on `agent`, read whole. */
function send(
  agent: Agent,
  url: string,
  route: Route,
  body: Buffer,
  session: string,
): Promise<Sent> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        agent,
        method: route.method,
        path: route.path,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          cookie: `sid=${session}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code;
          } catch {
            // not JSON
          }
          resolve({
            status: res.statusCode ?? 0,
            serverMs: parseFloat(String(res.headers['x-response-time'] ?? 'NaN')),
            code,
          });
        });
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('no answer in 15 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A probe on a worker thread, so that the load this process generates does not delay it:
 * `GET /health/live` every few milliseconds on one keep-alive connection, durations in ms.
 */
class Probe {
  private readonly worker: Worker;

  constructor(url: string) {
    this.worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const http = require('node:http');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let running = true;
      const durations = [];
      parentPort.on('message', () => { running = false; });
      const once = () => new Promise((resolve, reject) => {
        const started = performance.now();
        http.get(workerData.url + '/health/live', { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve([res.statusCode, performance.now() - started]));
        }).on('error', reject);
      });
      (async () => {
        while (running) {
          const [status, ms] = await once();
          if (status !== 200) throw new Error('probe got ' + status);
          durations.push(ms);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        agent.destroy();
        parentPort.postMessage(durations);
      })();
      `,
      { eval: true, workerData: { url } },
    );
  }

  /** Stops the probe; resolves to its durations. */
  stop(): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (durations: number[]) => {
        void this.worker.terminate();
        resolve(durations);
      });
      this.worker.once('error', reject);
      this.worker.postMessage('stop');
    });
  }
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

const median = (values: number[]): number => percentile(values, 0.5);

async function probeFor(url: string, ms: number): Promise<number[]> {
  const probe = new Probe(url);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return probe.stop();
}

describe('hostile bodies under load', () => {
  let server: ServerProcess | undefined;
  let url: string;
  let session: string;
  let documentId: string;
  /** One document per connection, for the benign changes. */
  const benignDocuments: string[] = [];

  beforeAll(async () => {
    server = await serve(
      { BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES), LOGIN_RATE_LIMIT_MAX: '1000000' },
      (started) => (server = started),
    );
    url = server.url;
    session = await login(url, await signup(url));
    const created = await call(url, 'POST', '/documents', {
      session,
      body: { title: 'target', content: 'hostile target' },
    });
    documentId = created.body.id as string;
    for (let i = 0; i < CONNECTIONS; i++) {
      const own = await call(url, 'POST', '/documents', {
        session,
        body: { title: 'benign', content: 'changed by one connection' },
      });
      benignDocuments.push(own.body.id as string);
    }
  });

  afterAll(async () => {
    await server?.stop();
  });

  /**
   * Sends every (route, family) body round-robin from CONNECTIONS connections for
   * DURATION_MS, with `benign` bodies of each route interleaved when given.
   */
  async function storm(
    routes: Route[],
    benign?: (route: Route) => Buffer,
  ): Promise<{ tally: Tally; failures: string[]; times: Map<string, number[]> }> {
    const bodies = routes.flatMap((route) =>
      Object.entries(FAMILIES).map(([family, render]) => ({
        route,
        family,
        body: Buffer.from(render(route.limit - 512, route.base), 'utf8'),
      })),
    );
    for (const { route, family, body } of bodies) {
      // Just under the limit: refused for what it holds, not for its size.
      expect([family, body.length < route.limit]).toEqual([family, true]);
      expect([family, body.length > route.limit / 2]).toEqual([family, true]);
    }
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const tally = new Tally('hostile');
    const failures: string[] = [];
    const times = new Map<string, number[]>();
    const record = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms]);
    // At least DURATION_MS, and until every body has been sent MIN_SAMPLES times (within a cap).
    const started = Date.now();
    let next = 0;
    let benignSent = 0;
    const going = () =>
      Date.now() - started < DURATION_MS ||
      (next < bodies.length * MIN_SAMPLES && Date.now() - started < MAX_DURATION_MS);
    await loops(CONNECTIONS, going, async (loop, iteration) => {
      if (benign && iteration % 2 === 0) {
        const route = routes[benignSent++ % routes.length];
        const label = `${route.method} ${route.path.replace(documentId, '{id}')}`;
        // Each connection changes a document of its own: concurrent changes of one get 412.
        const own = { ...route, path: route.path.replace(documentId, benignDocuments[loop]) };
        const answer = await send(agent, url, own, benign(route), session);
        if (answer.status >= 400) failures.push(`benign ${label}: ${answer.status}`);
        record(`${label} benign`, answer.serverMs);
        return;
      }
      const { route, family, body } = bodies[next++ % bodies.length];
      const label = `${route.method} ${route.path.replace(documentId, '{id}')}`;
      const sentAt = performance.now();
      const answer = await send(agent, url, route, body, session);
      tally.add({
        reply: { status: answer.status } as never,
        durationMs: performance.now() - sentAt,
      });
      if (answer.status < 400 || answer.status >= 500) {
        failures.push(`${label} ${family}: ${answer.status} ${answer.code ?? ''}`);
      }
      record(`${label} ${family}`, answer.serverMs);
    });
    agent.destroy();
    return { tally, failures, times };
  }

  it('refuses hostile sign-in and account bodies with 4xx while /health/live stays within 5x its unloaded p99', async () => {
    const credentials = { username: 'someone', password: 'a password of a kind' };
    const routes: Route[] = [
      { method: 'POST', path: '/auth/signup', limit: SMALL_LIMIT_BYTES, base: credentials },
      { method: 'POST', path: '/auth/login', limit: SMALL_LIMIT_BYTES, base: credentials },
      {
        method: 'PUT',
        path: '/users/me/password',
        limit: SMALL_LIMIT_BYTES,
        base: { currentPassword: 'not the password', newPassword: 'another password' },
      },
      {
        method: 'DELETE',
        path: '/users/me',
        limit: SMALL_LIMIT_BYTES,
        base: { password: 'not the password' },
      },
    ];
    const unloaded = await probeFor(url, 3_000);
    const probe = new Probe(url);
    const { tally, failures } = await storm(routes);
    const loaded = await probe.stop();
    const after = await probeFor(url, 2_000);
    const baseline = Math.max(percentile(unloaded, 0.99), percentile(after, 0.99));
    report(tally.summary());
    report(
      `probe p99: unloaded ${percentile(unloaded, 0.99).toFixed(2)} ms (after ${percentile(after, 0.99).toFixed(2)}), ` +
        `under hostile load ${percentile(loaded, 0.99).toFixed(2)} ms over ${loaded.length} probes`,
    );
    expect(failures.slice(0, 20)).toEqual([]);
    expect(tally.requests).toBeGreaterThan(100);
    expect(percentile(loaded, 0.99)).toBeLessThan(5 * baseline);
  });

  it('makes a hostile document body cost at most 3x the server time of a benign one of its size', async () => {
    const document = { title: 'hostile', content: 'c' };
    const routes: Route[] = [
      { method: 'POST', path: '/documents', limit: BODY_LIMIT_BYTES, base: document },
      {
        method: 'PATCH',
        path: `/documents/${documentId}`,
        limit: BODY_LIMIT_BYTES,
        base: { title: 'hostile' },
      },
    ];
    // A benign body of the same size: 512 KiB of content that JSON escapes to twice that.
    const content = '"'.repeat((BODY_LIMIT_BYTES - 512 - 100) / 2);
    const benign = Buffer.from(JSON.stringify({ title: 'benign', content }), 'utf8');
    const { tally, failures, times } = await storm(routes, () => benign);
    report(tally.summary());
    const verdicts: string[] = [];
    for (const route of routes) {
      const label = `${route.method} ${route.path.replace(documentId, '{id}')}`;
      const benignMs = median(times.get(`${label} benign`) ?? []);
      for (const family of Object.keys(FAMILIES)) {
        const hostileMs = median(times.get(`${label} ${family}`) ?? []);
        const ratio = hostileMs / benignMs;
        report(
          `${label} ${family}: median server time ${hostileMs.toFixed(1)} ms, ` +
            `benign ${benignMs.toFixed(1)} ms, ratio ${ratio.toFixed(2)}`,
        );
        if (!(ratio <= 3)) verdicts.push(`${label} ${family}: ratio ${ratio.toFixed(2)}`);
      }
    }
    expect(failures.slice(0, 20)).toEqual([]);
    expect(verdicts).toEqual([]);
  });
});
