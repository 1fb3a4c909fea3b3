import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DependencyHealth } from './dependency-health.service.js';
import { HealthCheckLogger } from './health-check.logger.js';
import { HealthController } from './health.controller.js';
import { PostgresProbe } from './postgres-probe.js';
import { ReadinessService } from './readiness.service.js';

/** /health/live, /health/ready (this process) and /health/dependencies (shared services). */
@Global()
@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json', logger: HealthCheckLogger })],
  controllers: [HealthController],
  providers: [ReadinessService, PostgresProbe, DependencyHealth],
  exports: [ReadinessService, DependencyHealth],
})
export class HealthModule {}
