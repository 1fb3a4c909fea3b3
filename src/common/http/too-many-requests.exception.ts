import { HttpException, HttpStatus } from '@nestjs/common';

/** A 429 that tells the client, through `Retry-After`, when to try again. */
export class TooManyRequestsException extends HttpException {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many attempts; try again later',
    code = 'TOO_MANY_REQUESTS',
  ) {
    super({ code, message }, HttpStatus.TOO_MANY_REQUESTS);
  }
}
