import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsServer } from './metrics-server.js';
import { BUILD_INFO, buildInfo, MetricsService } from './metrics.service.js';

/**
 * Prometheus metrics: at GET /metrics on the main port, or, with METRICS_PORT, only on a
 * listener of their own on that port. `MetricsService` is there for every module to report to.
 */
@Module({})
export class MetricsModule {
  static forRoot({ metrics }: AppConfig): DynamicModule {
    return {
      module: MetricsModule,
      global: true,
      controllers: metrics.port === undefined ? [MetricsController] : [],
      providers: [
        { provide: BUILD_INFO, useValue: buildInfo(metrics.gitCommit) },
        MetricsService,
        MetricsServer,
      ],
      exports: [MetricsService],
    };
  }
}
