import { Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { TooManyRequestsException } from '../http/too-many-requests.exception.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { RateLimitStore } from './rate-limit.store.js';

/** Probes and scrapers are never limited. */
const EXEMPT = /^\/(health\/|metrics(\?|$))/;

/**
 * Per-IP rate limiting of every request, run as the first hook so that a flood is refused
 * before any body is read or any route runs. Answers carry the IETF `RateLimit-Policy` and
 * `RateLimit` headers; beyond the budget 429 with `Retry-After`. The client IP honours
 * `TRUST_PROXY`. If the store cannot be reached, requests are let through and the log says
 * so once. Refusals are counted in `metrics`.
 */
export function rateLimitHook(
  store: RateLimitStore,
  { max, windowMs }: AppConfig['rateLimit'],
  metrics: Pick<MetricsService, 'countRateLimited'>,
) {
  const logger = new Logger('RateLimit');
  const policy = `${max};w=${Math.ceil(windowMs / 1000)}`;
  let storeDown = false;

  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (max === 0 || EXEMPT.test(request.url)) return;
    let count;
    try {
      count = await store.hit(`ip:${request.ip}`, windowMs);
    } catch (error) {
      if (!storeDown) {
        logger.warn(
          `Rate-limit store unreachable, requests are not limited: ${(error as Error).message}`,
        );
      }
      storeDown = true;
      return;
    }
    if (storeDown) logger.log('Rate-limit store reachable again');
    storeDown = false;
    const reset = Math.max(1, Math.ceil(count.resetMs / 1000));
    const remaining = Math.max(0, max - count.hits);
    void reply
      .header('ratelimit-policy', policy)
      .header('ratelimit', `limit=${max}, remaining=${remaining}, reset=${reset}`);
    if (count.hits > max) {
      metrics.countRateLimited('ip');
      throw new TooManyRequestsException(reset, 'Too many requests; slow down', 'RATE_LIMITED');
    }
  };
}
