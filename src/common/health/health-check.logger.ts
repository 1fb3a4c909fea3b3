import { Logger, type LoggerService } from '@nestjs/common';

/**
 * What @nestjs/terminus logs. A failed check (a dependency down, or the drain of a shutdown,
 * when readiness is 503 on purpose) is reported as a warning naming the checks, not as an
 * error with a stack: the cause is outside this process, and a normal rolling restart must
 * not look like an incident in the logs.
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
    this.logger.warn(message);
  }
}
