import { Injectable } from '@nestjs/common';

/** Whether this instance should receive new traffic; false once shutdown has begun. */
@Injectable()
export class ReadinessService {
  private draining = false;

  get shuttingDown(): boolean {
    return this.draining;
  }

  markShuttingDown(): void {
    this.draining = true;
  }
}
