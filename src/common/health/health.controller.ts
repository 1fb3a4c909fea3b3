import { Public } from '../../auth/decorators/auth.decorators.js';
import { Controller, Get } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { RedisService } from '../redis/redis.service.js';
import { ReadinessService } from './readiness.service.js';
import { ApiOkResponse } from '@nestjs/swagger';
import { ApiProblem } from '../http/api-problem.decorator.js';

const CHECK_TIMEOUT_MS = 1_000;

/** Dependencies by name, each with its state (`up` or `down`) and what its check reported. */
const INDICATORS = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] } },
    additionalProperties: true,
  },
  example: { database: { status: 'up' }, redis: { status: 'up' } },
};

/** A passing check, as @nestjs/terminus reports it; a failing one is a 503 problem. */
const HEALTHY = {
  description: 'The checks pass',
  schema: {
    type: 'object',
    required: ['status', 'info', 'error', 'details'],
    properties: {
      status: { type: 'string', enum: ['ok'] },
      info: INDICATORS,
      error: { ...INDICATORS, example: {} },
      details: INDICATORS,
    },
  },
};

@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly redis: RedisService,
    private readonly readiness: ReadinessService,
  ) {}

  /** The process is up and serving HTTP. */
  @ApiOkResponse(HEALTHY)
  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** PostgreSQL (and Redis, when configured) answer, and no shutdown is under way. */
  @ApiProblem(503, 'A dependency is down, or the server is shutting down (see checks)')
  @ApiOkResponse(HEALTHY)
  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  ready(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [
      () => {
        const session = this.indicators.check('lifecycle');
        return this.readiness.shuttingDown ? session.down('shutting down') : session.up();
      },
      this.database.pingCheck('database').withTimeout(CHECK_TIMEOUT_MS),
    ];
    if (this.redis.client) {
      checks.push(
        this.indicators
          .check('redis')
          .attempt(() => this.redis.ping())
          .withTimeout(CHECK_TIMEOUT_MS),
      );
    }
    if (this.redis.separateCache) {
      // A cache instance that is down only slows reads, but a replica without it serves
      // every read from PostgreSQL: take it out of rotation like any other dependency.
      checks.push(
        this.indicators
          .check('redisCache')
          .attempt(() => this.redis.pingCache())
          .withTimeout(CHECK_TIMEOUT_MS),
      );
    }
    return this.health.check(checks);
  }
}
