/** Seconds a client is asked to wait (`Retry-After`) while PostgreSQL cannot be reached. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * SQLSTATEs of a server that is shutting down, restarting or out of connections: 57P01-57P03
 * (admin shutdown, crash shutdown, cannot connect now) and 53300 (too many connections).
 * Class 08 (connection exception) is matched as a whole.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Socket errors of a connection to PostgreSQL that could not be opened or was lost. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** What node-postgres says when a connection ends, or none is free in time. */
const DRIVER_MESSAGES = [/^Connection terminated/, /timeout exceeded when trying to connect/];

function unavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^08[0-9A-Z]{3}$/.test(code) || UNAVAILABLE_STATES.has(code)) return true;
    if (SOCKET_CODES.has(code)) return true;
  }
  return DRIVER_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * True when a query failed because PostgreSQL could not be reached (down, restarting, out of
 * connections, unreachable), not because of the query: the request may succeed later, so it
 * is a 503 rather than a 500. TypeORM wraps the driver's error as `driverError`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return unavailable(error) || unavailable((error as { driverError?: unknown })?.driverError);
}
