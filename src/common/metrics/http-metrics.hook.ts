import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MetricsService } from './metrics.service.js';

/**
 * An `onResponse` hook that records each response in `http_request_duration_seconds`, labelled
 * with the route template (never the raw URL, so ids and random 404 paths add no series);
 * `MetricsService` counts probes and scrapes apart.
 */
export function httpMetricsHook(metrics: MetricsService) {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    metrics.observeRequest(
      request.method,
      request.routeOptions.url,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  };
}
