import { BadRequestException } from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProblemDetailsDto } from './problem-details.dto.js';
import { statusCode } from './problem-details.filter.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/**
 * No route takes a body nested more than one level; deeper ones are refused before
 * validation, whose recursive transform would otherwise run out of stack (a 500).
 */
export const MAX_BODY_DEPTH = 32;

function problem(status: number, code: string, detail: string, instance: string, id: string) {
  const body: ProblemDetailsDto = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    code,
    detail,
    instance,
    requestId: id,
  };
  return JSON.stringify(body);
}

/** Whether a parsed JSON value nests arrays or objects more than `limit` levels deep. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  // Iterative, so that the check itself cannot run out of stack.
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

/** A `preValidation` hook that answers 400 to a body nested deeper than `limit`. */
export function bodyDepthGuard(limit = MAX_BODY_DEPTH) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!nestsDeeperThan(request.body, limit)) return done();
    done(
      new BadRequestException({
        code: 'MALFORMED_JSON',
        message: `JSON bodies may nest at most ${limit} levels`,
      }),
    );
  };
}

/**
 * Fastify's `frameworkErrors`: a URL that is not valid percent-encoded UTF-8, answered
 * before routing (so before the exception filter and the hooks) as problem details.
 */
export function frameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode ?? 400;
  const code = error.code === 'FST_ERR_BAD_URL' ? 'MALFORMED_URL' : statusCode(status);
  const detail =
    error.code === 'FST_ERR_BAD_URL' ? 'The URL is not valid percent-encoded UTF-8' : error.message;
  void reply
    .code(status)
    .header('content-type', PROBLEM_JSON)
    .header('x-request-id', request.id)
    .send(problem(status, code, detail, request.url.split('?')[0], String(request.id)));
}

/** How long a refused connection is still read (and what comes dropped) before it is cut. */
const LINGER_MS = 2_000;
const refused = new WeakSet<Duplex>();

/**
 * Fastify's `clientErrorHandler`: what Node's parser refuses (a request not received within
 * REQUEST_TIMEOUT_MS, headers over the size limit, bytes that are not HTTP) gets problem
 * details, and the connection is closed. Not at once, as Fastify's own handler does: a client
 * still sending its body would get a reset instead of the answer. The server ends its side and
 * drops what still arrives (Node's parser refuses it again, which lands here and is ignored),
 * for at most LINGER_MS.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || refused.has(socket)) return;
  refused.add(socket);
  const [status, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request was not received in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are too large']
        : [400, 'The request is not valid HTTP'];
  if (socket.writable) {
    const id = randomUUID();
    // The answer to a HEAD has no body: a client would read one as the start of garbage.
    // Node names no method yet; the bytes it failed on hold the request line, maybe after
    // the rest of an earlier request on the connection.
    const packet = (error as { rawPacket?: Buffer }).rawPacket?.toString('latin1') ?? '';
    const head = packet.includes('HEAD /');
    const body = head ? '' : problem(status, statusCode(status), detail, '', id);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        `Content-Type: ${PROBLEM_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
