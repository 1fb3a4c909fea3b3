import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Level, Logger } from 'pino';
import { clientIp } from '../http/client-ip.js';
import { pathOf, PROBE_ROUTES } from '../http/probe-routes.js';

/** The id of the request being handled, for every line logged while handling it. */
const requestIds = new AsyncLocalStorage<string>();

/**
 * pino's `mixin`: adds `reqId` to any line logged while a request is handled, whichever
 * logger writes it, without a child logger per request.
 */
export function requestIdMixin(): { reqId?: string } {
  const reqId = requestIds.getStore();
  // A new object each time: pino merges the line's own fields into it.
  return reqId === undefined ? {} : { reqId };
}

/**
 * A 503 of these reports a state, as intended: readiness while the server starts or drains (a
 * rolling update is not an incident), dependencies while one is down (logged once, at warn,
 * when its state changes).
 */
const STATE_REPORTS: ReadonlySet<string> = new Set(['/health/ready', '/health/dependencies']);

/**
 * The level of a request's completion line: by status; the successes of probes and scrapes
 * (which come every few seconds) at debug, and the 503s of the health routes at info.
 */
export function completionLevel(url: string, statusCode: number): Level {
  if (statusCode === 503 && STATE_REPORTS.has(pathOf(url))) return 'info';
  if (statusCode >= 500) return 'error';
  if (statusCode >= 400) return 'warn';
  return PROBE_ROUTES.has(pathOf(url)) ? 'debug' : 'info';
}

/** What the completion line says of the request: never its headers or body. */
function requestFields(request: FastifyRequest) {
  return {
    id: request.id,
    method: request.method,
    url: request.url,
    remoteAddress: clientIp(request),
  };
}

/**
 * One JSON line per request, written from Fastify's hooks when the response is sent (or the
 * client goes away): method, URL, route template, status, duration in ms and request id. The
 * request id is also on every other line logged while the request is handled (see
 * `requestIdMixin`). With the level at `silent`, nothing is installed.
 *
 * `logger` writes the completion lines; these hold only the fields above, so it may be one
 * without redaction.
 */
export function installRequestLogging(fastify: FastifyInstance, logger: Logger): void {
  if (logger.level === 'silent') return;
  fastify.addHook('onRequest', (request, _reply, done) => {
    requestIds.run(request.id, done);
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const { statusCode } = reply;
    logger[completionLevel(request.url, statusCode)](
      {
        reqId: request.id,
        req: requestFields(request),
        res: { statusCode },
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
        route: request.routeOptions.url,
      },
      'request completed',
    );
    done();
  });
  fastify.addHook('onRequestAbort', (request: FastifyRequest, done) => {
    logger.info(
      {
        reqId: request.id,
        req: requestFields(request),
        route: request.routeOptions.url,
      },
      'request aborted by the client',
    );
    done();
  });
}
