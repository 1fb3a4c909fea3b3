import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { once } from 'node:events';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { prometheusContentType } from 'prom-client';
import type { AppConfig } from '../config/app-config.js';
import { statusCode } from '../http/problem-details.filter.js';
import { MetricsService } from './metrics.service.js';

/** Time a request to the metrics port may take to arrive whole. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Time scrapes in flight at shutdown get before their connections are cut. */
const CLOSE_GRACE_MS = 1_000;

/**
 * The listener of METRICS_PORT (on the main port's HOST): GET and HEAD /metrics, 404 for any
 * other path, nothing else. A plain Node.js server, not a second Fastify: it has one route, no
 * session, no rate limit, and it must answer while the main server drains. It opens when the
 * application has started and closes last at shutdown, so a drain can still be scraped.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server?: Server;

  constructor(
    private readonly metrics: MetricsService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  /** The port it listens on; undefined when METRICS_PORT is unset. */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { port } = this.config.getOrThrow('metrics', { infer: true });
    if (port === undefined) return;
    const { host, keepAliveTimeoutMs } = this.config.getOrThrow('http', { infer: true });
    const server = createServer((request, response) => void this.answer(request, response));
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = keepAliveTimeoutMs;
    server.listen({ port, host });
    await once(server, 'listening');
    this.server = server;
    this.logger.log(`Metrics on http://${host}:${this.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = once(server, 'close');
    server.close();
    server.closeIdleConnections();
    await Promise.race([closed, sleep(CLOSE_GRACE_MS, undefined, { ref: false })]);
    server.closeAllConnections();
    await closed;
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      problem(response, 404, 'Only /metrics is served on this port', path);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      problem(response, 405, `${request.method} is not served at /metrics; use GET`, path);
      return;
    }
    let body: string;
    try {
      body = await this.metrics.scrape();
    } catch (error) {
      this.logger.error(`Scrape failed: ${error instanceof Error ? error.stack : String(error)}`);
      problem(response, 500, 'An unexpected error occurred', path);
      return;
    }
    response.writeHead(200, {
      'content-type': prometheusContentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  }
}

/** A problem-details answer, as the main port gives (without a request id: none is kept here). */
function problem(response: ServerResponse, status: number, detail: string, path: string): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    code: statusCode(status),
    detail,
    instance: path,
  });
  response.writeHead(status, {
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}
