import { writeSync } from 'node:fs';
import { hostname } from 'node:os';

/** Exit statuses of a process stopped by a signal, as a shell reports them (128 + number). */
export const SIGNAL_EXIT_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_STATUS;

/** Levels above `warn`, at which the line below is not written. */
const QUIETER_THAN_WARN = new Set(['error', 'fatal', 'silent']);

/**
 * Until `Startup` takes over: the server's modules are still loading, pino among them, so the
 * line is written in pino's shape by hand, at warn (the configuration is not read yet either:
 * only the environment's LOG_LEVEL may silence it).
 */
function stopWhileLoading(signal: StopSignal): void {
  if (!QUIETER_THAN_WARN.has(process.env.LOG_LEVEL ?? '')) {
    const line = {
      level: 'warn',
      time: new Date().toISOString(),
      pid: process.pid,
      hostname: hostname(),
      context: 'Startup',
      phase: 'loading the server',
      msg: `${signal} received while loading the server: stopping`,
    };
    writeSync(1, `${JSON.stringify(line)}\n`);
  }
  process.exit(SIGNAL_EXIT_STATUS[signal]);
}

let handler: (signal: StopSignal) => void = stopWhileLoading;
let installed = false;
const listener = (signal: NodeJS.Signals): void => handler(signal as StopSignal);

/**
 * SIGTERM and SIGINT stop the process from now until `releaseStartupSignals`. main.ts calls
 * this on its first line: a container's PID 1 ignores the signals it has no handler for, and
 * loading the server takes a second or two.
 *
 * One listener stays in place throughout, and `handleStartupSignals` only changes what it
 * does: Node delivers a signal at its next turn of the event loop, to the listeners of that
 * moment, and one that came while the listeners were being replaced would be lost.
 */
export function installStartupSignals(): void {
  if (installed) return;
  installed = true;
  process.on('SIGTERM', listener);
  process.on('SIGINT', listener);
}

/** What a signal does during the rest of start-up. */
export function handleStartupSignals(next: (signal: StopSignal) => void): void {
  handler = next;
  installStartupSignals();
}

/** Start-up is over; install the running server's handlers first, so that none is lost. */
export function releaseStartupSignals(): void {
  process.removeListener('SIGTERM', listener);
  process.removeListener('SIGINT', listener);
  installed = false;
  handler = stopWhileLoading;
}
