import { applyDecorators } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiExtension } from '@nestjs/swagger';

/**
 * The body limit of routes whose bodies are small by nature (credentials, a password): the
 * largest valid one, a 1024-character password every character of which JSON escapes to six
 * bytes, fits with room to spare.
 */
export const SMALL_BODY_LIMIT_BYTES = 8 * 1024;

/** Marks an operation with its own body limit; the OpenAPI document states it in the 413. */
export const BODY_LIMIT_EXTENSION = 'x-body-limit';

/**
 * Bodies of this route larger than `bytes` (or than BODY_LIMIT_BYTES, if lower) get 413, from
 * their Content-Length before a byte of them is read, or as soon as a chunked body passes it.
 */
export const BodyLimit = (bytes: number) =>
  applyDecorators(RouteConfig({ bodyLimit: bytes }), ApiExtension(BODY_LIMIT_EXTENSION, bytes));

/**
 * An `onRoute` hook that gives routes marked with `@BodyLimit()` their limit: Fastify takes a
 * per-route `bodyLimit` only among the route's options, which Nest builds from metadata.
 */
export function routeBodyLimits(ceiling: number) {
  return (route: { config?: { bodyLimit?: unknown }; bodyLimit?: number }): void => {
    const limit = route.config?.bodyLimit;
    if (typeof limit === 'number') route.bodyLimit = Math.min(limit, ceiling);
  };
}
