import { describe, expect, it, jest } from '@jest/globals';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { httpMetricsHook } from './http-metrics.hook.js';
import type { MetricsService } from './metrics.service.js';

function observe(routeOptions: { url?: string }) {
  const metrics = { observeRequest: jest.fn() };
  const done = jest.fn();
  const request = {
    method: 'GET',
    url: '/documents/abc',
    routeOptions,
  } as unknown as FastifyRequest;
  const reply = { statusCode: 404, elapsedTime: 12.5 } as unknown as FastifyReply;
  httpMetricsHook(metrics as unknown as MetricsService)(request, reply, done);
  expect(done).toHaveBeenCalledWith();
  return metrics.observeRequest;
}

describe('httpMetricsHook', () => {
  it('records the route template, never the URL, and the duration in seconds', () => {
    expect(observe({ url: '/documents/:id' })).toHaveBeenCalledWith(
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
