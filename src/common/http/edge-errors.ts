import { BadRequestException } from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProblemDetailsDto } from './problem-details.dto.js';
import { statusCode } from './problem-details.filter.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/**
 * How much structure a parsed body or query may have. class-transformer's `plainToInstance`
 * costs far more per key than parsing does (about 5 s for the 90,000 keys that fit in 1 MiB,
 * with the event loop blocked throughout), and its recursion runs out of stack on deep
 * nesting (a 500). The widest body a route takes has four keys and no nesting: these bounds
 * leave room for new fields and refuse what no client of this API sends.
 */
export interface StructureLimits {
  /** Levels of nested arrays and objects. */
  depth: number;
  /** Keys of any one object. */
  keys: number;
  /** Values in all (every key's value, every array element, the root). */
  values: number;
}

export const BODY_LIMITS: StructureLimits = { depth: 32, keys: 64, values: 1024 };

/** A query string: flat, a few parameters, a repeated parameter a few times. */
export const QUERY_LIMITS: StructureLimits = { depth: 2, keys: 32, values: 256 };

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

/** Which of `limits` a parsed value exceeds: `depth`, `keys` or `values`; undefined if none. */
export function exceededLimit(
  value: unknown,
  limits: StructureLimits,
): keyof StructureLimits | undefined {
  // Iterative, so that the walk itself cannot run out of stack; it stops at the first limit
  // crossed, so its own cost is bounded by the limits, not by the body.
  const pending: [unknown, number][] = [[value, 0]];
  let values = 1;
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limits.depth) return 'depth';
    const children = Array.isArray(node) ? (node as unknown[]) : Object.values(node);
    if (!Array.isArray(node) && children.length > limits.keys) return 'keys';
    values += children.length;
    if (values > limits.values) return 'values';
    for (const child of children) pending.push([child, depth + 1]);
  }
  return undefined;
}

function tooComplex(
  limit: keyof StructureLimits,
  limits: StructureLimits,
  what: 'JSON bodies' | 'Query strings',
): BadRequestException {
  // Depth keeps the code it had before the other limits existed.
  if (limit === 'depth' && what === 'JSON bodies') {
    return new BadRequestException({
      code: 'MALFORMED_JSON',
      message: `JSON bodies may nest at most ${limits.depth} levels`,
    });
  }
  const message = {
    depth: `${what} may nest at most ${limits.depth} levels`,
    keys: `${what} may have at most ${limits.keys} keys per object`,
    values: `${what} may hold at most ${limits.values} values in all`,
  }[limit];
  const code = what === 'JSON bodies' ? 'BODY_TOO_COMPLEX' : 'QUERY_TOO_COMPLEX';
  return new BadRequestException({ code, message });
}

/**
 * A `preValidation` hook that answers 400 to a body or query string beyond `body` or
 * `query` limits, before the validation pipe transforms them.
 */
export function structureGuard(body = BODY_LIMITS, query = QUERY_LIMITS) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const bodyLimit = exceededLimit(request.body, body);
    if (bodyLimit) return done(tooComplex(bodyLimit, body, 'JSON bodies'));
    const queryLimit = exceededLimit(request.query, query);
    if (queryLimit) return done(tooComplex(queryLimit, query, 'Query strings'));
    done();
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
  lingeringClose(socket);
}

/** Ends the server's side of `socket` now and cuts it LINGER_MS later; what arrives meanwhile is dropped. */
function lingeringClose(socket: Duplex): void {
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * An `onSend` hook for a body refused while the client is still sending it (413 from its
 * Content-Length, or once past the limit). Fastify has Node close such a connection as soon as
 * the answer is written, and the bytes still arriving then meet a reset, which a client still
 * writing (a 1 MiB body to an 8 KiB route) may get instead of the answer. Here the rest is read
 * and dropped, and the connection ends after the answer and is cut LINGER_MS later, as for the
 * requests Node's parser refuses.
 */
export function lingerOnUnreadBody() {
  return (
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (error: null, payload: unknown) => void,
  ): void => {
    const raw = request.raw;
    if (reply.statusCode === 413 && !raw.complete && raw.httpVersionMajor === 1) {
      // The answer keeps its `Connection: close`; Node ends such a connection through
      // `destroySoon()` once the answer is written, which is where the linger goes instead.
      const socket = raw.socket as Duplex & { destroySoon?: () => void };
      socket.destroySoon = () => {
        if (socket.destroyed || refused.has(socket)) return;
        refused.add(socket);
        lingeringClose(socket);
      };
    }
    done(null, payload);
  };
}
