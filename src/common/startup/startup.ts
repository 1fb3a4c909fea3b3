import { Logger, type LoggerService } from '@nestjs/common';
import { Logger as PinoNestLogger, PinoLogger } from 'nestjs-pino';
import type { LevelWithSilent } from 'pino';
import { ConfigError } from '../config/app-config.js';
import { errorMessage } from '../logging/error-serializer.js';
import { loggerOptions } from '../logging/logging.module.js';
import {
  handleStartupSignals,
  releaseStartupSignals,
  SIGNAL_EXIT_STATUS,
  type StopSignal,
} from './startup-signals.js';
import { APPLYING_MIGRATIONS, startupPhase } from './startup-phase.js';

/**
 * Nest's logger during start-up: pino's JSON lines, written as they happen. Nest's
 * `ExceptionHandler` reports a module that failed to build before the error reaches
 * `Startup.fail`, which writes it as the one fatal line of the failed start: that report
 * is left out.
 */
class StartupLogger implements LoggerService {
  constructor(private readonly inner: PinoNestLogger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.inner.log(message, ...rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    if (rest.at(-1) === 'ExceptionHandler') return;
    this.inner.error(message, ...rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.inner.warn(message, ...rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.inner.debug(message, ...rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.inner.verbose(message, ...rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.inner.fatal(message, ...rest);
  }
}

/**
 * The start of the process, from its first line until it serves (or has migrated, for the
 * `migrate` command). From construction, SIGTERM and SIGINT stop it at once, with a line that
 * says what it was doing, and exit 128 + the signal's number; `finish` hands signals over to
 * the running server. A failed start is one JSON line at level fatal, then exit 1.
 */
export class Startup {
  private readonly logger = new Logger('Startup');
  private logging = false;

  constructor() {
    handleStartupSignals(this.onSignal);
  }

  /**
   * Everything logged from now on, through Nest's `Logger` included, is a pino JSON line at
   * `level` or above, written at once: nothing waits for the application to be built.
   */
  useLogLevel(level: LevelWithSilent): void {
    const params = { pinoHttp: loggerOptions(level) };
    Logger.overrideLogger(new StartupLogger(new PinoNestLogger(new PinoLogger(params), params)));
    this.logging = true;
  }

  /**
   * Start-up is over: signals belong to the running server, whose handlers (`exitOnSignals`)
   * must be in place already.
   */
  finish(): void {
    releaseStartupSignals();
  }

  /**
   * Ends a failed start with exit status 1. A configuration error is the one line that names
   * the variable, on stderr; anything else is one JSON line at level fatal with the error (its
   * type, message and stack) and the phase it happened in.
   */
  fail(error: unknown): never {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    if (!this.logging) this.useLogLevel('info');
    const phase = startupPhase();
    this.logger.fatal({
      msg: `Start-up failed while ${phase}: ${errorMessage(error)}`,
      phase,
      err: error instanceof Error ? error : new Error(String(error)),
    });
    process.exit(1);
  }

  private readonly onSignal = (signal: StopSignal): void => {
    const phase = startupPhase();
    const undone =
      phase === APPLYING_MIGRATIONS ? ' (PostgreSQL rolls back the migration in progress)' : '';
    this.logger.warn({ msg: `${signal} received while ${phase}: stopping${undone}`, phase });
    process.exit(SIGNAL_EXIT_STATUS[signal]);
  };
}
