import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { call } from '../../support/http.js';
import { ServerProcess } from '../../support/server-process.js';
import type { Outcome } from './load.js';

/** What every server of these suites runs with, unless a case says otherwise. */
const BASE_ENV: Record<string, string | undefined> = {
  LOG_LEVEL: 'warn',
  BCRYPT_COST: '4',
  RATE_LIMIT_MAX: '0',
  REDIS_URL: undefined,
  SHUTDOWN_DELAY_MS: '0',
};

/** A document as the test wrote it, to compare with what the server gives back. */
export interface Written {
  id: string;
  title: string;
  content: string;
}

/**
 * Starts the built server and waits until it is ready. `track` receives it as soon as it is
 * spawned, so that it is cleaned up even when it never gets ready.
 */
export async function serve(
  env: Record<string, string | undefined>,
  track: (server: ServerProcess) => void,
): Promise<ServerProcess> {
  const server = await ServerProcess.spawn({ env: { ...BASE_ENV, ...env } });
  track(server);
  await server.waitUntilServing();
  await waitUntilReady(server.url, 30_000);
  return server;
}

/** Polls `/health/ready` until it says 200; resolves to the time it took. */
export async function waitUntilReady(baseUrl: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const status = await fetch(`${baseUrl}/health/ready`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${baseUrl} not ready within ${timeoutMs} ms (last status ${status})`);
    }
    await sleep(100);
  }
}

/** Some text of about `bytes` bytes, different every time. */
export function text(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .slice(0, bytes);
}

/** Creates `count` documents of the session's user; each has a title and content of its own. */
export async function createDocuments(
  baseUrl: string,
  session: string,
  count: number,
  visibility: 'public' | 'private',
): Promise<Written[]> {
  const written: Written[] = [];
  for (let i = 0; i < count; i++) {
    const body = { title: `seed ${i} ${text(8)}`, content: text(600), visibility };
    const reply = await call(baseUrl, 'POST', '/documents', { body, session });
    if (reply.status !== 201) throw new Error(`create failed: ${reply.status} ${reply.text}`);
    written.push({
      id: (reply.body as { id: string }).id,
      title: body.title,
      content: body.content,
    });
  }
  return written;
}

/**
 * What is wrong with the answer to a read of `expected` (undefined when nothing is): it must
 * be a 200 with the document, unchanged since it was written.
 */
export function readFailure(outcome: Outcome, expected: Written): string | undefined {
  if (!outcome.reply) return `no answer: ${outcome.error?.message}`;
  const { status, text: body } = outcome.reply;
  if (status !== 200) return `status ${status}: ${body.slice(0, 200)}`;
  const document = JSON.parse(body) as Written & { version: number };
  if (
    document.id !== expected.id ||
    document.title !== expected.title ||
    document.content !== expected.content ||
    document.version !== 1
  ) {
    return `document ${expected.id} came back different: ${body.slice(0, 200)}`;
  }
  return undefined;
}

/** The header's single value. */
export function header(outcome: Outcome, name: string): string | undefined {
  const value = outcome.reply?.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
