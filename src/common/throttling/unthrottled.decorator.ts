import { applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';

/** Marks the operations the OpenAPI document lists without a 429 answer. */
export const RATE_LIMIT_EXTENSION = 'x-rate-limited';

/**
 * The routes (or every route of a controller) that no rate limit applies to, probes and
 * metrics: `@SkipThrottle()` for every throttler, and no 429 in their contract.
 */
export const Unthrottled = () =>
  applyDecorators(SkipThrottle(), ApiExtension(RATE_LIMIT_EXTENSION, false));
