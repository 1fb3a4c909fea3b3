import { ForbiddenException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (
    (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined
  );
}

function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function sameOrigin(origin: string, request: FastifyRequest): boolean {
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * Cross-site request forgery protection for state-changing requests, together with the
 * session cookie's `SameSite=Lax`: a body must be `application/json` (415 otherwise), which
 * an HTML form cannot send, and a browser `Origin` must be this server's own or one listed in
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
