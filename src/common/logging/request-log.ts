import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { symbols, type Level, type Logger } from 'pino';

/** The id of the request being handled, for every line logged while handling it. */
const requestIds = new AsyncLocalStorage<string>();

/**
 * pino's `mixin`: adds `reqId` to any line logged while a request is handled, whichever
 * logger writes it. Costs nothing for requests that log nothing, unlike a child logger per
 * request.
 */
export function requestIdMixin(): { reqId?: string } {
  const reqId = requestIds.getStore();
  // A new object each time: pino merges the line's own fields into it.
  return reqId === undefined ? {} : { reqId };
}

/**
 * Probes hit the health routes every few seconds, and Prometheus scrapes /metrics: their
 * successes are logged at debug.
 */
const PROBE_PATHS = /^\/(health\/(live|ready)|metrics)(\?|$)/;

/** The level of a request's completion line: by status, and probes' successes at debug. */
export function completionLevel(url: string, statusCode: number): Level {
  if (statusCode >= 500) return 'error';
  if (statusCode >= 400) return 'warn';
  return PROBE_PATHS.test(url) ? 'debug' : 'info';
}

/** What a completion line says of a request: never its headers or body. */
export interface Completion {
  reqId: string;
  method: string;
  url: string;
  remoteAddress: string;
  route: string | undefined;
  /** Absent when the client went away before the response. */
  statusCode?: number;
  responseTime?: number;
}

type LineWriter = (level: Level, msg: string, line: Completion) => void;

/** The fields of a completion line, as pino writes them from an object. */
export function completionFields({ reqId, method, url, remoteAddress, route, ...res }: Completion) {
  return {
    reqId,
    req: { id: reqId, method, url, remoteAddress },
    ...(res.statusCode !== undefined && { res: { statusCode: res.statusCode } }),
    ...(res.responseTime !== undefined && { responseTime: res.responseTime }),
    route,
  };
}

const quote = JSON.stringify;

/**
 * Writes completion lines to `logger`'s destination as JSON text built here, with the level,
 * time and bindings that `logger` itself would write. pino's general path (mixin, merging,
 * serializers, redaction, a stringify per nested object) cost more than everything else a
 * cached read does for the log. The fields are fixed and hold no secrets, so nothing is lost.
 * A destination that wants pino's metadata (a multistream) gets lines through pino instead.
 */
export function completionLineWriter(logger: Logger): LineWriter {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[symbols.streamSym] as { write(line: string): unknown } & {
    [symbols.needsMetadataGsym]?: boolean;
  };
  if (stream[symbols.needsMetadataGsym]) {
    return (level, msg, line) => logger[level](completionFields(line), msg);
  }
  const time = internals[symbols.timeSym] as () => string;
  const bindings = internals[symbols.chindingsSym] as string;
  const formatLevel = (
    internals[symbols.formattersSym] as {
      level: (label: string, value: number) => object;
    }
  ).level;
  const opening = Object.fromEntries(
    Object.entries(logger.levels.values).map(([label, value]) => {
      const levelField = JSON.stringify(formatLevel(label, value)).slice(1, -1);
      return [label, `{${levelField}`];
    }),
  );
  return (level, msg, { reqId, method, url, remoteAddress, route, statusCode, responseTime }) => {
    if (!logger.isLevelEnabled(level)) return;
    const id = quote(reqId);
    stream.write(
      `${opening[level]}${time()}${bindings},"reqId":${id},"req":{"id":${id},"method":${quote(method)},` +
        `"url":${quote(url)},"remoteAddress":${quote(remoteAddress)}}` +
        (statusCode === undefined ? '' : `,"res":{"statusCode":${statusCode}}`) +
        (responseTime === undefined ? '' : `,"responseTime":${responseTime}`) +
        (route === undefined ? '' : `,"route":${quote(route)}`) +
        `,"msg":${quote(msg)}}\n`,
    );
  };
}

function completion(request: FastifyRequest): Completion {
  return {
    reqId: request.id,
    method: request.method,
    url: request.url,
    remoteAddress: request.ip,
    route: request.routeOptions.url,
  };
}

/**
 * One JSON line per request, written from Fastify's hooks when the response is sent (or the
 * client goes away): method, URL, route template, status, duration in ms and request id. The
 * request id is also on every other line logged while the request is handled (see
 * `requestIdMixin`). With the level at `silent`, nothing is installed.
 *
 * `logger` is the root logger: completion lines go to its destination, formatted as it would.
 */
export function installRequestLogging(fastify: FastifyInstance, logger: Logger): void {
  if (logger.level === 'silent') return;
  const write = completionLineWriter(logger);
  fastify.addHook('onRequest', (request, _reply, done) => {
    requestIds.run(request.id, done);
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const { statusCode } = reply;
    write(completionLevel(request.url, statusCode), 'request completed', {
      ...completion(request),
      statusCode,
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    });
    done();
  });
  fastify.addHook('onRequestAbort', (request: FastifyRequest, done) => {
    write('info', 'request aborted by the client', completion(request));
    done();
  });
}
