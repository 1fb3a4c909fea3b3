import type { FastifyReply, FastifyRequest } from 'fastify';
import { routeTemplateOf } from '../http/request-context.js';
import type { MetricsService } from './metrics.service.js';

/**
 * An `onResponse` hook that records each response in `http_request_duration_seconds`, labelled
 * with the route template that the first `onRequest` hook stored (never the raw URL, so ids and
 * random 404 paths add no series).
 */
export function httpMetricsHook(metrics: MetricsService) {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    metrics.observeRequest(
      request.method,
      routeTemplateOf(request.raw),
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  };
}
