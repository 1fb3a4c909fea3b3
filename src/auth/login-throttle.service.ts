import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../common/config/app-config.js';
import { TooManyRequestsException } from '../common/http/too-many-requests.exception.js';
import { MetricsService } from '../common/metrics/metrics.service.js';
import { RateLimitStore } from '../common/throttling/rate-limit.store.js';

/**
 * Brute-force protection for everything that checks a password or creates an account:
 * `LOGIN_RATE_LIMIT_MAX` attempts per window per client IP and, where a username is named,
 * per username. Counters live in the shared rate-limit store; if it cannot be reached the
 * check lets the attempt through and says so in the log.
 */
@Injectable()
export class LoginThrottle {
  private readonly logger = new Logger(LoginThrottle.name);
  private readonly max: number;
  private readonly windowMs: number;

  constructor(
    private readonly store: RateLimitStore,
    config: ConfigService<AppConfig, true>,
    private readonly metrics: MetricsService,
  ) {
    this.max = config.getOrThrow('auth', { infer: true }).loginRateLimitMax;
    this.windowMs = config.getOrThrow('rateLimit', { infer: true }).windowMs;
  }

  /** Counts one attempt; throws 429 with `Retry-After` when a budget is spent. */
  async attempt(ip: string, username?: string): Promise<void> {
    const keys = [`auth:ip:${ip}`];
    if (username !== undefined) keys.push(`auth:user:${username.toLowerCase()}`);
    let retryAfterMs = 0;
    for (const key of keys) {
      const count = await this.store.hit(key, this.windowMs).catch((error: Error) => {
        this.logger.warn(`Rate-limit store unreachable, attempt allowed: ${error.message}`);
        return null;
      });
      if (count && count.hits > this.max) retryAfterMs = Math.max(retryAfterMs, count.resetMs);
    }
    if (retryAfterMs > 0) {
      this.logger.warn({ ip, username }, 'Too many sign-in attempts: refused');
      this.metrics.countRateLimited('login');
      throw new TooManyRequestsException(
        Math.max(1, Math.ceil(retryAfterMs / 1000)),
        'Too many attempts; try again later',
        'TOO_MANY_ATTEMPTS',
      );
    }
  }
}
