import { Public } from '../../auth/decorators/auth.decorators.js';
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { ApiOkResponse } from '@nestjs/swagger';
import { ApiProblem } from '../http/api-problem.decorator.js';
import { DependencyHealth, type DependencyName } from './dependency-health.service.js';
import { ReadinessService } from './readiness.service.js';
import { Unthrottled } from '../throttling/unthrottled.decorator.js';

/** Checks by name, each with its state (`up` or `down`) and what it reported. */
const INDICATORS = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] } },
    additionalProperties: true,
  },
};

/** A passing check, as @nestjs/terminus reports it; a failing one is a 503 problem. */
function healthy(description: string, example: Record<string, unknown>) {
  return {
    description,
    schema: {
      type: 'object',
      required: ['status', 'info', 'error', 'details'],
      properties: {
        status: { type: 'string', enum: ['ok'] },
        info: { ...INDICATORS, example },
        error: { ...INDICATORS, example: {} },
        details: { ...INDICATORS, example },
      },
    },
  };
}

/** One dependency in the body of /health/dependencies. */
const DEPENDENCY = {
  type: 'object',
  required: ['status', 'latencyMs'],
  properties: {
    status: { type: 'string', enum: ['up', 'down'] },
    latencyMs: { type: 'number', minimum: 0, description: 'Time the check took' },
    message: { type: 'string', description: 'Why it counts as down' },
  },
};

/** The dependencies by name: `postgres`, and `redis` and `redisCache` when configured. */
const DEPENDENCIES = {
  type: 'object',
  properties: { postgres: DEPENDENCY, redis: DEPENDENCY, redisCache: DEPENDENCY },
  example: {
    postgres: { status: 'up', latencyMs: 0.6 },
    redis: { status: 'up', latencyMs: 0.3 },
  },
};

const DEPENDENCIES_UP = {
  description:
    'Every dependency answers: `postgres`, and `redis` and `redisCache` when REDIS_URL and ' +
    'CACHE_REDIS_URL are set. Checked at most once a second, for operators, dashboards and ' +
    'alerts; readiness does not depend on it',
  schema: {
    type: 'object',
    required: ['status', 'info', 'error', 'details'],
    properties: {
      status: { type: 'string', enum: ['ok'] },
      info: DEPENDENCIES,
      error: { ...DEPENDENCIES, example: {} },
      details: DEPENDENCIES,
    },
  },
};

/**
 * Runs `checks` through @nestjs/terminus; a failure becomes a 503 problem with `code`, the
 * `detail` made from the names of the failed checks, and every check's state.
 */
async function run(
  health: HealthCheckService,
  checks: HealthIndicatorFunction[],
  code: string,
  detail: (failed: string[]) => string,
): Promise<HealthCheckResult> {
  try {
    return await health.check(checks);
  } catch (error) {
    if (!(error instanceof ServiceUnavailableException)) throw error;
    const result = error.getResponse() as HealthCheckResult;
    const failed = Object.keys(result.error ?? {});
    throw new ServiceUnavailableException({ ...result, code, message: detail(failed) });
  }
}

@Public()
@Unthrottled()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessService,
    private readonly dependencyHealth: DependencyHealth,
  ) {}

  /** The process is up and serving HTTP. */
  @ApiOkResponse(healthy('The process serves HTTP', {}))
  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** This process takes traffic: started (database migrated), not shutting down. */
  @ApiProblem(503, 'Starting, or shutting down (code NOT_READY; `checks.lifecycle` says which)')
  @ApiOkResponse(
    healthy(
      'The process takes traffic. The state of PostgreSQL and Redis plays no part: see ' +
        '/health/dependencies',
      { lifecycle: { status: 'up' } },
    ),
  )
  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  ready(): Promise<HealthCheckResult> {
    const state = this.readiness.lifecycle;
    const lifecycle = () => {
      const check = this.indicators.check('lifecycle');
      if (state === 'serving') return check.up();
      return check.down(state === 'starting' ? 'starting' : 'shutting down');
    };
    return run(this.health, [lifecycle], 'NOT_READY', () =>
      state === 'starting' ? 'The server is starting' : 'The server is shutting down',
    );
  }

  /** PostgreSQL and Redis (when configured), each with its state and the time its check took. */
  @ApiProblem(503, 'A dependency is down (code DEPENDENCY_DOWN; `checks` has each dependency)')
  @ApiOkResponse(DEPENDENCIES_UP)
  @Get('dependencies')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  async dependencies(): Promise<HealthCheckResult> {
    const report = await this.dependencyHealth.check();
    const checks = Object.entries(report).map(([name, state]) => () => {
      const { status, ...fields } = state;
      const check = this.indicators.check(name as DependencyName);
      return status === 'up' ? check.up(fields) : check.down(fields);
    });
    return run(this.health, checks, 'DEPENDENCY_DOWN', (down) => `Down: ${down.join(', ')}`);
  }
}
