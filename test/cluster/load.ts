import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, type Reply } from '../support/http.js';

export type Kind = 'read' | 'list' | 'login' | 'write';

/** A request that did not get its expected status, or no answer at all. */
export interface Failure {
  phase: string;
  kind: Kind;
  request: string;
  /** The status received, or the socket error / timeout. */
  outcome: string;
  /** Milliseconds since the load started, when the request was sent. */
  sentAtMs: number;
  durationMs: number;
  body?: string;
}

export interface PhaseCounts {
  /** Requests that got their expected status, by kind. */
  ok: Record<Kind, number>;
  failed: number;
  maxLatencyMs: number;
}

/** A document the server acknowledged with 201. */
export interface Written {
  id: string;
  title: string;
  content: string;
}

export type HttpReply = Reply;

const REQUEST_TIMEOUT_MS = 15_000;
const FAILURE_BACKOFF_MS = 50;
const MAX_FAILURES_KEPT = 100;

/** One request on `agent` (keep-alive), with the body read whole; rejects on socket errors. */
export function send(
  agent: Agent | undefined,
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; session?: string; localAddress?: string } = {},
): Promise<HttpReply> {
  return call(baseUrl, method, path, { ...options, agent, timeoutMs: REQUEST_TIMEOUT_MS });
}

interface Operation {
  kind: Kind;
  method: string;
  path: string;
  body?: unknown;
  session?: string;
  expect: number;
  /** What is wrong with an answer of the expected status, if anything. */
  check?: (reply: HttpReply) => string | undefined;
}

export interface LoadTarget {
  baseUrl: string;
  account: { username: string; password: string };
  /** A session of the account, for reads and writes. */
  session: string;
  /** A document of the account, read over and over. */
  document: Written;
}

/**
 * Continuous traffic through the load balancer from a few async loops, each on its own
 * keep-alive connection: reads of one document and of the list, logins, and document writes.
 * Every outcome is counted under the phase it was sent in.
 */
export class Load {
  phase = 'warm-up';
  readonly phases = new Map<string, PhaseCounts>();
  readonly failures: Failure[] = [];
  readonly written: Written[] = [];
  private readonly startedAt = Date.now();
  private readonly loops: Promise<void>[] = [];
  private stopping = false;

  constructor(private readonly target: LoadTarget) {}

  start({ readers, logins, writers }: { readers: number; logins: number; writers: number }): void {
    for (let i = 0; i < readers; i++) this.loops.push(this.loop((n) => this.read(n)));
    for (let i = 0; i < logins; i++) this.loops.push(this.loop(() => this.login()));
    for (let i = 0; i < writers; i++) this.loops.push(this.loop((n) => this.write(i, n)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  counts(phase: string): PhaseCounts {
    let counts = this.phases.get(phase);
    if (!counts) {
      counts = { ok: { read: 0, list: 0, login: 0, write: 0 }, failed: 0, maxLatencyMs: 0 };
      this.phases.set(phase, counts);
    }
    return counts;
  }

  /** Sends `next(0)`, `next(1)`, ... one after the other on one keep-alive connection. */
  private async loop(next: (n: number) => Operation): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let n = 0; !this.stopping; n++) await this.run(agent, next(n));
    } finally {
      agent.destroy();
    }
  }

  private async run(agent: Agent, operation: Operation): Promise<void> {
    const phase = this.phase;
    const sentAt = Date.now();
    let outcome: string | undefined;
    let body: string | undefined;
    try {
      const reply = await send(agent, this.target.baseUrl, operation.method, operation.path, {
        body: operation.body,
        session: operation.session,
      });
      if (reply.status !== operation.expect) {
        outcome = `status ${reply.status}`;
        body = reply.text.slice(0, 300);
      } else {
        outcome = operation.check?.(reply);
      }
    } catch (error) {
      outcome = (error as Error).message;
    }
    const durationMs = Date.now() - sentAt;
    const counts = this.counts(phase);
    counts.maxLatencyMs = Math.max(counts.maxLatencyMs, durationMs);
    if (outcome === undefined) {
      counts.ok[operation.kind] += 1;
      return;
    }
    counts.failed += 1;
    // A dead balancer fails at once: back off rather than spin, and keep the first few.
    await sleep(FAILURE_BACKOFF_MS);
    if (this.failures.length >= MAX_FAILURES_KEPT) return;
    this.failures.push({
      phase,
      kind: operation.kind,
      request: `${operation.method} ${operation.path}`,
      outcome,
      sentAtMs: sentAt - this.startedAt,
      durationMs,
      body,
    });
  }

  /** Three reads of the document for one of the list. */
  private read(n: number): Operation {
    const { session, document } = this.target;
    if (n % 4 === 3) {
      return { kind: 'list', method: 'GET', path: '/documents?limit=5', session, expect: 200 };
    }
    return {
      kind: 'read',
      method: 'GET',
      path: `/documents/${document.id}`,
      session,
      expect: 200,
      check: (reply) =>
        (JSON.parse(reply.text) as Written).content === document.content
          ? undefined
          : 'wrong content',
    };
  }

  private login(): Operation {
    return {
      kind: 'login',
      method: 'POST',
      path: '/auth/login',
      body: this.target.account,
      expect: 200,
      check: (reply) =>
        String(reply.headers['set-cookie'] ?? '').includes('sid=') ? undefined : 'no session',
    };
  }

  private write(loop: number, n: number): Operation {
    const title = `cluster ${loop}-${n}`;
    const content = `written under load ${randomUUID()}`;
    return {
      kind: 'write',
      method: 'POST',
      path: '/documents',
      body: { title, content },
      session: this.target.session,
      expect: 201,
      check: (reply) => {
        const { id } = JSON.parse(reply.text) as Written;
        if (!id) return 'no id';
        this.written.push({ id, title, content });
        return undefined;
      },
    };
  }
}
