import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Where the matched route template is kept on the raw request, for the request log line and
 * the HTTP metrics.
 */
export const ROUTE_TEMPLATE = Symbol.for('docs-api.routeTemplate');

/** The template of the route that matched (`/documents/:id`); undefined when none did. */
export function routeTemplateOf(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & { [ROUTE_TEMPLATE]?: string })[ROUTE_TEMPLATE];
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The client's `X-Request-Id` when it is short and plain, else a new UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}
