import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';

/**
 * Parses `application/json` bodies as Nest's default parser does (Fastify's, with
 * `__proto__` and `constructor` keys refused), except that an empty body is no body: clients
 * that set `Content-Type: application/json` on every request send it on `DELETE`, logout and
 * the like. A route that needs a body then says which fields are missing (400
 * `VALIDATION_FAILED`); a body of whitespace is still malformed JSON.
 */
export function emptyJsonIsNoBody(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parse = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser(
    'application/json',
    { bodyLimit: fastify.initialConfig.bodyLimit },
    (request, body, done) => {
      if (body.length === 0) return done(null, undefined);
      // Fastify's parser completes through `done` and returns nothing.
      void parse(request as FastifyRequest, body.toString(), done);
    },
  );
}
