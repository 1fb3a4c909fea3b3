import { ForbiddenException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Http2ServerRequest } from 'node:http2';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Whether a body follows the headers. HTTP/1.1 announces one with Content-Length or
 * Transfer-Encoding; HTTP/2 may send DATA frames with neither, so there a stream that did not
 * end with its HEADERS frame carries a body.
 */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const stream = (request.raw as unknown as Partial<Http2ServerRequest>).stream;
  return stream !== undefined && !stream.endAfterHeaders;
}

function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Whether `origin` is this server's own: same scheme, host and port as the request was sent
 * to. Fastify's `host` is the Host header on HTTP/1.1 and `:authority` on HTTP/2, and with
 * TRUST_PROXY, like `protocol`, what the proxy in front forwarded.
 */
function sameOrigin(origin: string, request: FastifyRequest): boolean {
  try {
    return new URL(origin).origin === new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    return false;
  }
}

/**
 * Cross-site request forgery protection for state-changing requests, together with the
 * session cookie's `SameSite=Lax`: a body must be `application/json` (415 otherwise), which
 * an HTML form cannot send, and a browser `Origin` must be this server's own (scheme, host and port) or one listed in
 * `CORS_ORIGINS` (403 otherwise).
 */
export function crossSiteGuard(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins);
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!STATE_CHANGING.has(request.method)) return done();
    const origin = request.headers.origin;
    if (origin !== undefined && !allowed.has(origin) && !sameOrigin(origin, request)) {
      return done(
        new ForbiddenException({
          code: 'CROSS_SITE_REQUEST',
          message: 'Requests from this origin are not allowed',
        }),
      );
    }
    if (hasBody(request) && mediaType(request) !== 'application/json') {
      return done(
        new UnsupportedMediaTypeException({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: 'Request bodies must be application/json',
        }),
      );
    }
    done();
  };
}
