import { describe, expect, it, jest } from '@jest/globals';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ROUTE_TEMPLATE } from '../http/request-context.js';
import { httpMetricsHook } from './http-metrics.hook.js';
import type { MetricsService } from './metrics.service.js';

function observe(raw: object) {
  const metrics = { observeRequest: jest.fn() };
  const done = jest.fn();
  const request = { method: 'GET', url: '/documents/abc', raw } as unknown as FastifyRequest;
  const reply = { statusCode: 404, elapsedTime: 12.5 } as unknown as FastifyReply;
  httpMetricsHook(metrics as unknown as MetricsService)(request, reply, done);
  expect(done).toHaveBeenCalledWith();
  return metrics.observeRequest;
}

describe('httpMetricsHook', () => {
  it('records the stored route template, never the URL, and the duration in seconds', () => {
    expect(observe({ [ROUTE_TEMPLATE]: '/documents/:id' })).toHaveBeenCalledWith(
      'GET',
      '/documents/:id',
      404,
      0.0125,
    );
  });

  it('passes no route when none matched', () => {
    expect(observe({})).toHaveBeenCalledWith('GET', undefined, 404, 0.0125);
  });
});
