import { STATUS_CODES } from 'node:http';
import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  isDatabaseUnavailable,
} from '../database/database-unavailable.js';
import { errorSummary } from '../logging/error-serializer.js';
import type { ProblemDetailsDto } from './problem-details.dto.js';
import { RouteMethods } from './route-methods.js';
import { TooManyRequestsException } from './too-many-requests.exception.js';

/** Fastify's own errors (raised before a handler runs) and the codes they get here. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

type Described = Pick<ProblemDetailsDto, 'status' | 'code' | 'detail' | 'errors' | 'checks'> & {
  retryAfterSeconds?: number;
};

/** A stable code for a status with no more specific one: 404 -> NOT_FOUND. */
export function statusCode(status: number): string {
  return (STATUS_CODES[status] ?? 'Error')
    .replace(/'/g, '')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

/** The code for a Fastify error (the adapter wraps them in an HttpException as `cause`). */
function fastifyCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? FASTIFY_CODES[code] : undefined;
}

function describeHttpException(exception: HttpException): Described {
  const status = exception.getStatus();
  const body = exception.getResponse();
  const fields = (typeof body === 'string' ? { message: body } : body) as Record<string, unknown>;
  const message = fields.message;
  const described: Described = {
    status,
    code:
      typeof fields.code === 'string'
        ? fields.code
        : (fastifyCode(exception.cause) ?? statusCode(status)),
    detail: typeof message === 'string' ? message : exception.message,
  };
  // An exception that knows when the client may retry says so (503 HASHER_BUSY, ...).
  const { retryAfterSeconds } = exception as { retryAfterSeconds?: unknown };
  if (typeof retryAfterSeconds === 'number') described.retryAfterSeconds = retryAfterSeconds;
  if (Array.isArray(message)) {
    described.code = typeof fields.code === 'string' ? fields.code : 'VALIDATION_FAILED';
    described.detail = 'The request is not valid';
    described.errors = message.map(String);
  }
  // A failed health check (@nestjs/terminus's result): the state of each check goes along.
  if (fields.details && typeof fields.details === 'object' && fields.status === 'error') {
    described.code = typeof fields.code === 'string' ? fields.code : 'NOT_READY';
    described.detail = typeof message === 'string' ? message : 'A health check failed';
    described.checks = fields.details as Record<string, unknown>;
  }
  return described;
}

/** Errors that carry their own 4xx status (Fastify's and its plugins') are the client's. */
function describeClientError(exception: unknown): Described | undefined {
  const error = exception as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof error?.statusCode !== 'number' || error.statusCode < 400 || error.statusCode > 499) {
    return undefined;
  }
  return {
    status: error.statusCode,
    code: fastifyCode(error) ?? statusCode(error.statusCode),
    detail: typeof error.message === 'string' ? error.message : undefined,
  };
}

/**
 * Turns every exception into a problem-details response. Anything unexpected becomes a 500
 * whose body says nothing about the cause; the stack goes to the log with the request id
 * (a failed query's SQLSTATE and text, never its parameters: see `serializeError`).
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  constructor(private readonly routes: RouteMethods) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();

    let described =
      exception instanceof HttpException
        ? describeHttpException(exception)
        : (describeClientError(exception) ??
          this.unavailable(exception, request) ??
          this.unexpected(exception, request));
    const path = request.url.split('?')[0];
    // No route matched: whatever the hooks or the body parser objected to first, the answer
    // is that there is nothing here (404), or not for this method (405).
    if (request.is404 && described.status < 500 && described.status !== 429) {
      if (described.status !== 404) {
        described = { status: 404, code: 'NOT_FOUND', detail: `Cannot ${request.method} ${path}` };
      }
      const allow = this.routes.allowed(path);
      if (allow.length > 0) {
        void reply.header('allow', allow.join(', '));
        described = {
          status: 405,
          code: 'METHOD_NOT_ALLOWED',
          detail: `${request.method} is not served at ${path}; use ${allow.join(', ')}`,
        };
      }
    }

    const problem: ProblemDetailsDto = {
      type: 'about:blank',
      title: STATUS_CODES[described.status] ?? 'Error',
      status: described.status,
      code: described.code,
      detail: described.detail,
      instance: path,
      requestId: String(request.id),
      ...(described.errors && { errors: described.errors }),
      ...(described.checks && { checks: described.checks }),
    };
    if (reply.sent) return;
    const retryAfter =
      exception instanceof TooManyRequestsException
        ? exception.retryAfterSeconds
        : described.retryAfterSeconds;
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    void reply
      .status(problem.status)
      .header('content-type', 'application/problem+json; charset=utf-8')
      .send(problem);
  }

  /**
   * PostgreSQL cannot be reached: a 503 that the client may retry, not a fault of this
   * request. Logged in one line without a stack, since the cause is not in this code.
   */
  private unavailable(exception: unknown, request: FastifyRequest): Described | undefined {
    if (!isDatabaseUnavailable(exception)) return undefined;
    const message = exception instanceof Error ? exception.message : String(exception);
    this.logger.warn({ requestId: request.id }, `Database unavailable: ${message}`);
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      code: 'DATABASE_UNAVAILABLE',
      detail: 'The database cannot be reached; try again shortly',
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
    };
  }

  private unexpected(exception: unknown, request: FastifyRequest): Described {
    this.logger.error({ err: exception, requestId: request.id }, errorSummary(exception));
    const status = HttpStatus.INTERNAL_SERVER_ERROR;
    return { status, code: 'INTERNAL_ERROR', detail: 'An unexpected error occurred' };
  }
}
