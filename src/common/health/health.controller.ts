import { Public } from '../../auth/decorators/auth.decorators.js';
import { Controller, Get } from '@nestjs/common';
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
import { ApiProblem } from '../http/api-problem.decorator.js';

const CHECK_TIMEOUT_MS = 1_000;

@Public()
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
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** PostgreSQL (and Redis, when configured) answer, and no shutdown is under way. */
  @ApiProblem(503, 'A dependency is down, or the server is shutting down (see checks)')
  @Get('ready')
  @HealthCheck()
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
    return this.health.check(checks);
  }
}
