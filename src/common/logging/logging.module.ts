import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module, RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { stdTimeFunctions, type LevelWithSilent } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/app-config.js';
import { routeTemplateOf } from '../http/request-context.js';

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
 * Probes hit the health routes every few seconds, and Prometheus scrapes /metrics: their
 * successes are logged at debug.
 */
const PROBE_PATHS = /^\/(health\/(live|ready)|metrics)(\?|$)/;

/**
 * JSON lines: one line per request with method, URL, route template, status, duration and
 * request id, and that request id on every line logged while handling the request.
 */
export function pinoHttpOptions(level: LevelWithSilent): Options {
  return {
    level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS },
    // One child logger per request, with the request id. The request and the route go on the
    // completion line itself: as bindings (pino-http's default, and `customProps`) they would
    // cost two more child loggers, serialized eagerly, on every request.
    quietReqLogger: true,
    quietResLogger: true,
    customSuccessObject: (req, _res, value: object) => ({
      req,
      ...value,
      route: routeTemplateOf(req),
    }),
    customErrorObject: (req, _res, _error, value: object) => ({
      req,
      ...value,
      route: routeTemplateOf(req),
    }),
    customLogLevel: (req: IncomingMessage, res: ServerResponse, error?: Error) => {
      if (error || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return PROBE_PATHS.test(req.url ?? '') ? 'debug' : 'info';
    },
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const { level } = config.getOrThrow('log', { infer: true });
        return {
          // Fastify's middleware engine rewrites the default '*' so that it matches nothing.
          // With logging off, no request gets the middleware: it builds three child loggers
          // per request (most of the per-request cost of a small route) only to discard them.
          forRoutes: level === 'silent' ? [] : [{ path: '{*splat}', method: RequestMethod.ALL }],
          pinoHttp: pinoHttpOptions(level),
        };
      },
    }),
  ],
})
export class LoggingModule {}
