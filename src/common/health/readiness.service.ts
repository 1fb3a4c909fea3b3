import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';

/** Where this process is in its life, as readiness reports it. */
export type Lifecycle = 'starting' | 'serving' | 'draining';

/**
 * Whether this process should receive new traffic: from the end of start-up (database
 * connected and migrated, every module initialised) until shutdown begins. The state of
 * shared dependencies plays no part: see `DependencyHealth` for that.
 */
@Injectable()
export class ReadinessService implements OnApplicationBootstrap {
  private state: Lifecycle = 'starting';

  get lifecycle(): Lifecycle {
    return this.state;
  }

  get shuttingDown(): boolean {
    return this.state === 'draining';
  }

  onApplicationBootstrap(): void {
    if (this.state === 'starting') this.state = 'serving';
  }

  markShuttingDown(): void {
    this.state = 'draining';
  }
}
