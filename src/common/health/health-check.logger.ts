import { Logger, type LoggerService } from '@nestjs/common';

/**
 * What @nestjs/terminus logs. It reports every failed check, on every request; here a failure
 * is expected, not an error: readiness is 503 on purpose while the server drains (a rolling
 * update is not an incident), and a dependency that goes down or comes back is logged once by
 * `DependencyHealth`. So failures are written at debug level, with the state of each check.
 */
export class HealthCheckLogger implements LoggerService {
  private readonly logger = new Logger('HealthCheck');

  log(message: unknown): void {
    this.logger.log(message);
  }

  warn(message: unknown): void {
    this.logger.warn(message);
  }

  error(message: unknown): void {
    this.logger.debug(message);
  }
}
