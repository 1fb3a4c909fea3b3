import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { LevelWithSilent, Logger } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/app-config.js';
import { errSerializer, summariseLoggedError } from './error-serializer.js';
import { requestIdMixin } from './request-log.js';

/** Paths pino replaces with "[Redacted]": credentials never reach the log. */
export const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'password',
  'currentPassword',
  'newPassword',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.*.password',
];

/**
 * pino's `stdTimeFunctions.isoTime`, formatted at most once per millisecond: under load many
 * lines share one, and `Date#toISOString` was a visible part of a line's cost.
 */
export function isoTimeOncePerMillisecond(): () => string {
  let at = Number.NaN;
  let field = '';
  return () => {
    const now = Date.now();
    if (now !== at) {
      at = now;
      field = `,"time":"${new Date(now).toISOString()}"`;
    }
    return field;
  };
}

/**
 * The root logger's options: JSON lines with the level as a word and an ISO time, secrets
 * redacted, errors without the values of failed queries, and the request id on every line
 * logged while a request is handled.
 * (nestjs-pino builds the logger through pino-http, which adds its request, response and
 * error serializers.)
 */
export function loggerOptions(level: LevelWithSilent): Options {
  return {
    level,
    timestamp: isoTimeOncePerMillisecond(),
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS },
    serializers: { err: errSerializer },
    hooks: { logMethod: summariseLoggedError },
    mixin: requestIdMixin,
  };
}

/** Hands the fields of a completion line to pino as they are. */
const asIs = <T>(value: T): T => value;

/**
 * The logger of the completion lines (see `installRequestLogging`): they carry only the
 * request's method, URL, route, status, duration and id, so neither redaction nor pino-http's
 * serializers of raw requests and responses apply.
 */
export function completionLogger(root: Logger): Logger {
  return root.child({}, { redact: { paths: [] }, serializers: { req: asIs, res: asIs } });
}

/**
 * nestjs-pino as Nest's logger. The per-request part is Fastify hooks of our own
 * (`installRequestLogging`, from `configureApp`), not its middleware: that builds three child
 * loggers per request and runs Fastify's middleware engine, most of the cost of a small route.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const { level } = config.getOrThrow('log', { infer: true });
        return { forRoutes: [], pinoHttp: loggerOptions(level) };
      },
    }),
  ],
})
export class LoggingModule {}
