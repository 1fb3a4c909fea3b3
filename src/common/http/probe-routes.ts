/**
 * The routes that probes and scrapers call, not users: their successes are logged at debug,
 * and they are kept out of the latency histogram (whose percentiles would otherwise follow
 * the probe rate rather than the traffic) and counted on their own.
 */
export const PROBE_ROUTES: ReadonlySet<string> = new Set([
  '/health/live',
  '/health/ready',
  '/health/dependencies',
  '/metrics',
]);

/** The path of a request's URL, without its query string. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
