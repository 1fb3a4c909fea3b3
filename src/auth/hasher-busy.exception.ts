import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * 503 `HASHER_BUSY`: more password checks are waiting than the hasher takes, so this one is
 * refused at once rather than queued behind them; `Retry-After` says when to try again.
 */
export class HasherBusyException extends HttpException {
  /** Seconds until the queue has drained, at least 1. */
  readonly retryAfterSeconds: number;

  constructor(waitSeconds = 1) {
    super(
      { code: 'HASHER_BUSY', message: 'Too many passwords are being checked; try again shortly' },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
    this.retryAfterSeconds = Math.max(1, waitSeconds);
  }
}
