import { Logger, type INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppConfig } from '../config/app-config.js';
import { ReadinessService } from '../health/readiness.service.js';

const logger = new Logger('Shutdown');

/** Time allowed for closing pools and the embedded database once connections are cut. */
const FORCED_CLOSE_GRACE_MS = 5_000;

/**
 * Drains the application: readiness turns 503, `delayMs` later the listener closes and idle
 * keep-alive sockets with it, in-flight requests get `timeoutMs` to finish, then the database
 * pool, Redis and the embedded PostgreSQL close. Resolves to the process exit code: 0 for a
 * clean drain, 1 when requests had to be cut off.
 */
export async function drain(
  app: INestApplication,
  { delayMs, timeoutMs }: AppConfig['shutdown'],
  signal: string,
): Promise<number> {
  app.get(ReadinessService).markShuttingDown();
  logger.log(`${signal} received: draining (delay ${delayMs} ms, budget ${timeoutMs} ms)`);
  await sleep(delayMs);
  const closed = app.close().then(() => 'closed' as const);
  // Unreferenced: a deadline must not keep the process alive once everything has closed.
  const deadline = (ms: number) => sleep(ms, 'timeout' as const, { ref: false });
  const outcome = await Promise.race([closed, deadline(timeoutMs)]);
  if (outcome === 'closed') {
    logger.log('Shutdown complete');
    return 0;
  }
  logger.error(`Requests still running after ${timeoutMs} ms: closing their connections`);
  // HTTP/1 servers can cut their connections; HTTP/2 sessions end with the process.
  (app.getHttpServer() as Partial<Server>).closeAllConnections?.();
  await Promise.race([closed, deadline(FORCED_CLOSE_GRACE_MS)]);
  return 1;
}

/**
 * SIGTERM or SIGINT starts a drain and exits with its code; a second signal exits at once.
 */
export function exitOnSignals(app: INestApplication, config: AppConfig['shutdown']): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (draining) {
      logger.warn(`${signal} received again: exiting now`);
      process.exit(1);
    }
    draining = true;
    void drain(app, config, signal).then(
      (code) => process.exit(code),
      (error: unknown) => {
        logger.error(`Shutdown failed: ${error instanceof Error ? error.stack : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
