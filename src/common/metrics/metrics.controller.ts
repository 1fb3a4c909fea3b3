import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { prometheusContentType } from 'prom-client';
import { Public } from '../../auth/decorators/auth.decorators.js';
import { ApiProblem } from '../http/api-problem.decorator.js';
import { MetricsService } from './metrics.service.js';
import { Unthrottled } from '../throttling/unthrottled.decorator.js';

@Public()
@Unthrottled()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus metrics of this process; on this port only while METRICS_PORT is unset. */
  @ApiProblem(404, 'METRICS_PORT is set: the metrics are served at /metrics on that port only')
  @ApiOkResponse({
    description:
      'HTTP, document cache, rate limits, pools, dependencies, build and runtime, in the ' +
      'Prometheus text exposition format, version 0.0.4',
    content: {
      'text/plain': {
        schema: { type: 'string' },
        example:
          '# HELP http_rate_limited_total Requests refused with 429\n' +
          '# TYPE http_rate_limited_total counter\n' +
          'http_rate_limited_total{limiter="ip"} 0\n',
      },
    },
  })
  @Get()
  @Header('content-type', prometheusContentType)
  @Header('cache-control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
