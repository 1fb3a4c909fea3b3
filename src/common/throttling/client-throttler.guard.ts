import { Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientIp } from '../http/client-ip.js';
import { TooManyRequestsException } from '../http/too-many-requests.exception.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ThrottleExemptions } from './throttle-exemptions.js';
import { CLIENT_BUDGET, usernameTracker } from './throttlers.js';

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** What usernames look like; anything else in a login body is not logged. */
const USERNAME_SHAPE = /^[A-Za-z0-9_.-]{3,50}$/;

/** The targets a request no route matched is throttled as: no metadata, so per client only. */
class UnmatchedRoute {}
function unmatchedHandler(): void {}

/**
 * @nestjs/throttler's guard with the service's answers: 429 problem details with
 * `Retry-After` (RATE_LIMITED for the per-client budget, TOO_MANY_ATTEMPTS for the sign-in
 * ones), the IETF `RateLimit-Policy` and `RateLimit` headers for the per-client budget, a
 * counter per refusal, and requests let through (logged once) while the store is unreachable.
 * A spent budget may still let a request pass that `ThrottleExemptions` vouches for.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override logger = new Logger(ClientThrottlerGuard.name);
  private storeDown = false;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: MetricsService,
    private readonly exemptions: ThrottleExemptions,
  ) {
    super(options, storage, reflector);
  }

  /**
   * An `onRequest` hook for the requests no route matched, which Nest runs through no guard:
   * they spend the per-client budget too, so that probing unknown paths is limited as well.
   */
  unmatchedRoutes() {
    return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      if (!request.is404) return;
      const http = { getRequest: () => request, getResponse: () => reply };
      const context = {
        getClass: () => UnmatchedRoute,
        getHandler: () => unmatchedHandler,
        getType: () => 'http',
        switchToHttp: () => http,
      } as unknown as ExecutionContext;
      await this.canActivate(context);
    };
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    if (limit <= 0) return true;
    const { req, res } = this.getRequestResponse(context);
    const tracker = await getTracker(req, context);
    // Nothing to count by (no username in the body, no session cookie): validation or the
    // session guard answers such requests.
    if (!tracker) return true;
    const name = throttler.name ?? CLIENT_BUDGET;
    const record = await this.count(
      generateKey(context, tracker, name),
      ttl,
      limit,
      blockDuration,
      name,
    );
    if (!record) return true;
    if (name === CLIENT_BUDGET) setRateLimitHeaders(res as FastifyReply, limit, ttl, record);
    if (!record.isBlocked) return true;
    const request = req as FastifyRequest;
    if (await this.exemptions.allows(name, request)) return true;
    throw this.refusal(name, request, record);
  }

  /** Counts one hit; undefined when the store cannot be reached. */
  private async count(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    name: string,
  ): Promise<StorageRecord | undefined> {
    try {
      const record = await this.storageService.increment(key, ttl, limit, blockDuration, name);
      if (this.storeDown) this.logger.log('Rate-limit store reachable again');
      this.storeDown = false;
      return record;
    } catch (error) {
      if (!this.storeDown) {
        this.logger.warn(
          `Rate-limit store unreachable, requests are not limited: ${(error as Error).message}`,
        );
      }
      this.storeDown = true;
      return undefined;
    }
  }

  private refusal(
    name: string,
    request: FastifyRequest,
    record: StorageRecord,
  ): TooManyRequestsException {
    const retryAfter = Math.max(1, record.timeToBlockExpire);
    if (name === CLIENT_BUDGET) {
      this.metrics.countRateLimited('ip');
      return new TooManyRequestsException(
        retryAfter,
        'Too many requests; slow down',
        'RATE_LIMITED',
      );
    }
    this.metrics.countRateLimited('login');
    const username = usernameTracker(request);
    this.logger.warn(
      {
        ip: clientIp(request),
        budget: name,
        ...(USERNAME_SHAPE.test(username) && { username }),
      },
      'Too many sign-in attempts: refused',
    );
    return new TooManyRequestsException(
      retryAfter,
      'Too many attempts; try again later',
      'TOO_MANY_ATTEMPTS',
    );
  }
}

/** The IETF draft headers: the policy, and what is left of the current window. */
function setRateLimitHeaders(
  reply: FastifyReply,
  limit: number,
  ttlMs: number,
  record: StorageRecord,
): void {
  const reset = Math.max(1, record.timeToExpire);
  const remaining = Math.max(0, limit - record.totalHits);
  void reply
    .header('ratelimit-policy', `${limit};w=${Math.ceil(ttlMs / 1000)}`)
    .header('ratelimit', `limit=${limit}, remaining=${remaining}, reset=${reset}`);
}
