import { stdSerializers } from 'pino';
import { QueryFailedError } from 'typeorm';

/** What PostgreSQL's error says about where it failed: names, never values. */
const SQL_ERROR_FIELDS = ['table', 'column', 'constraint', 'dataType', 'routine'] as const;

type ErrorLike = Error & Record<string, unknown>;

function isQueryFailure(error: unknown): error is QueryFailedError & Record<string, unknown> {
  return error instanceof QueryFailedError;
}

/** The stack's frames only: its first lines repeat the message, which may quote values. */
function framesOf(error: Error): string | undefined {
  return error.stack
    ?.split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
}

/**
 * A failed query as the log may hold it: the SQLSTATE, the query text and the names of what
 * it touched. Never its parameters (token hashes, bcrypt hashes, document content), nor the
 * message and `detail` of PostgreSQL, which quote the values they refused ("Failing row
 * contains ...", `invalid input syntax for type uuid: "..."`).
 */
function describeQueryFailure(error: QueryFailedError & Record<string, unknown>) {
  const described: Record<string, unknown> = {
    type: 'QueryFailedError',
    code: error.code,
    query: error.query,
  };
  for (const field of SQL_ERROR_FIELDS) {
    if (typeof error[field] === 'string') described[field] = error[field];
  }
  described.stack = framesOf(error);
  return described;
}

function hasQueryFailureInside(error: ErrorLike): boolean {
  for (let cause: unknown = error.cause; cause; cause = (cause as ErrorLike).cause) {
    if (isQueryFailure(cause)) return true;
  }
  return false;
}

/** An error for the log: query failures without their values, others as pino writes them. */
export function serializeError(error: unknown): unknown {
  if (isQueryFailure(error)) return describeQueryFailure(error);
  if (!(error instanceof Error) || !hasQueryFailureInside(error as ErrorLike)) {
    return stdSerializers.err(error as Error);
  }
  return {
    type: error.constructor.name,
    message: error.message,
    stack: framesOf(error),
    cause: serializeError(error.cause),
  };
}

/**
 * pino's `err` serializer. pino calls it with the error itself; pino-http with pino's own
 * serialization of it, which has already copied a query failure's parameters: that one
 * starts again from the original error, which the serialization keeps as `raw`.
 */
export function errSerializer(value: unknown): unknown {
  if (value instanceof Error) return serializeError(value);
  const raw = (value as { raw?: unknown } | null)?.raw;
  return raw instanceof Error ? serializeError(raw) : value;
}

/** The message of a log line about `error`: its stack, or for a failed query its SQLSTATE. */
export function errorSummary(error: unknown): string {
  if (isQueryFailure(error)) return `Query failed with SQLSTATE ${String(error.code)}`;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** What a log line's message may say of `error`: its message, or for a failed query its SQLSTATE. */
export function errorMessage(error: unknown): string {
  if (isQueryFailure(error)) return `Query failed with SQLSTATE ${String(error.code)}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * pino's `logMethod` hook: `logger.error(error)` without a message takes the error's message
 * as the line's, which for a failed query quotes the values it refused; it gets the summary.
 */
export function summariseLoggedError(
  this: unknown,
  args: unknown[],
  method: (...args: unknown[]) => void,
): void {
  const [first] = args;
  if (args.length === 1 && isQueryFailure(first)) {
    method.apply(this, [first, errorSummary(first)]);
    return;
  }
  method.apply(this, args);
}
