import 'reflect-metadata';
import fastifyCompress, { type FastifyCompressOptions } from '@fastify/compress';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { ValidationPipe, type DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { loadConfig, readEnvironment, type AppConfig } from './common/config/app-config.js';
import { EmbeddedPostgres } from './common/database/embedded-postgres.js';
import { runMigrationsLocked } from './common/database/migrate.js';
import { connectDataSource, postgresOptions } from './common/database/typeorm-options.js';
import { ReadinessService } from './common/health/readiness.service.js';
import { proxyTrust } from './common/http/client-ip.js';
import { exitOnSignals } from './common/http/graceful-shutdown.js';
import { listen } from './common/http/listen.js';
import { routeBodyLimits } from './common/http/body-limit.js';
import { crossSiteGuard } from './common/http/cross-site.js';
import {
  clientErrorHandler,
  frameworkErrors,
  lingerOnUnreadBody,
  structureGuard,
} from './common/http/edge-errors.js';
import { emptyJsonIsNoBody } from './common/http/json-body.js';
import { requestIdFor } from './common/http/request-context.js';
import { MAX_PARAM_LENGTH, RouteMethods } from './common/http/route-methods.js';
import { serveOpenApi } from './common/http/openapi.js';
import { loadTls } from './common/http/tls.js';
import { completionLogger } from './common/logging/logging.module.js';
import { installRequestLogging } from './common/logging/request-log.js';
import { httpMetricsHook } from './common/metrics/http-metrics.hook.js';
import { MetricsService } from './common/metrics/metrics.service.js';
import { Startup } from './common/startup/startup.js';
import { enterStartupPhase } from './common/startup/startup-phase.js';
import { ClientThrottlerGuard } from './common/throttling/client-throttler.guard.js';

/**
 * Security headers for a JSON API: nothing may be loaded or framed from its responses.
 * `/documents/{id}/raw` replaces the policy with its own sandbox.
 */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
};

/**
 * The headers helmet sets for `options`, computed once: they do not depend on the request.
 * (@fastify/helmet builds helmet's middleware again, policy parsing included, for every
 * request, which cost about a fifth of the CPU of a small route; see bench/RESULTS.md.)
 */
function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined);
  return headers;
}

/** Swagger UI loads its own scripts, styles and images, and calls the API, from this origin. */
const DOCS_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Responses of 1 KiB and more, by Accept-Encoding; brotli at a quality that costs little CPU.
 * Bodies up to 64 KiB are compressed in one synchronous call rather than through a zlib stream
 * on the thread pool: for the JSON this API sends, the stream's setup and hand-offs cost more
 * than the compression (the plugin's default ceiling is 8 KiB on two cores; see
 * bench/RESULTS.md). Larger bodies still stream, so no single call blocks for long.
 */
const COMPRESS_OPTIONS: FastifyCompressOptions = {
  threshold: 1024,
  syncThreshold: 64 * 1024,
  encodings: ['br', 'gzip', 'deflate'],
  brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
};

/**
 * The Fastify instance with the limits and timeouts of the configuration, over HTTPS (and
 * HTTP/2 beside HTTP/1.1) when TLS is configured.
 */
export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  const { bodyLimitBytes, requestTimeoutMs, keepAliveTimeoutMs, tls } = config.http;
  const options = {
    logger: false,
    trustProxy: proxyTrust(config.trustProxy),
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    http: {
      // Node answers 408 and closes a connection whose request (headers, or headers and
      // body) is not complete within requestTimeout; it checks once a second, not every 30 s.
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: 1_000,
      noDelay: true,
    },
    keepAliveTimeout: keepAliveTimeoutMs,
    genReqId: requestIdFor,
    return503OnClosing: true,
    // Errors raised before routing get problem details like every other error.
    clientErrorHandler,
    frameworkErrors,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...(tls && { https: loadTls(tls), http2: tls.http2 }),
  };
  // One adapter type for every transport: the app uses only what HTTP/1 and HTTP/2 share.
  return new FastifyAdapter(
    options as ConstructorParameters<typeof FastifyAdapter>[0],
  ) as unknown as FastifyAdapter;
}

/**
 * Everything applied to the application around its modules: logging, validation and the
 * per-request headers. `main.ts` and every e2e suite call this, so tests run the production
 * pipeline.
 */
export async function configureApp(app: NestFastifyApplication): Promise<NestFastifyApplication> {
  app.useLogger(app.get(Logger));
  app.flushLogs();
  const config = app.get(ConfigService<AppConfig, true>);
  const { customHeaders } = config.getOrThrow('http', { infer: true });
  const routes = app.get(RouteMethods);
  const fastify = app.getHttpAdapter().getInstance();
  emptyJsonIsNoBody(app);
  fastify.addHook('onRoute', (route) => routes.add(route.method, route.url));
  fastify.addHook(
    'onRoute',
    routeBodyLimits(config.getOrThrow('http', { infer: true }).bodyLimitBytes),
  );
  installRequestLogging(fastify, completionLogger(PinoLogger.root));
  await app.register(fastifyCookie);
  await app.register(fastifyCompress, COMPRESS_OPTIONS);
  const { origins } = config.getOrThrow('cors', { infer: true });
  if (origins.length > 0) {
    // Browsers on these origins may call the API with the session cookie; preflights answered.
    await app.register(fastifyCors, {
      origin: origins,
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      maxAge: 600,
    });
  }
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  const security = securityHeaders(HELMET_OPTIONS);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(security).headers(customHeaders).header('x-request-id', request.id);
    done();
  });
  const metrics = app.get(MetricsService);
  fastify.addHook('onRequest', app.get(ClientThrottlerGuard).unmatchedRoutes());
  fastify.addHook('onRequest', crossSiteGuard(origins));
  fastify.addHook('preValidation', structureGuard());
  fastify.addHook('onSend', lingerOnUnreadBody());
  fastify.addHook('onResponse', httpMetricsHook(metrics));
  // While draining, every HTTP/1.1 response closes its connection, so that keep-alive
  // clients move to another replica and the listener can finish closing.
  const readiness = app.get(ReadinessService);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-response-time', `${reply.elapsedTime.toFixed(1)}ms`);
    if (request.url.startsWith('/docs')) void reply.header('content-security-policy', DOCS_CSP);
    if (readiness.shuttingDown && request.raw.httpVersionMajor === 1) {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });
  serveOpenApi(app);
  return app;
}

/**
 * Builds the configured application, ready to `listen`. `root` is the application module;
 * a test may wrap it to add routes of its own. Nothing is buffered: what the modules log
 * while they start (connecting, waiting for the migration lock) is written as it happens,
 * and a module that fails to build rejects rather than ending the process.
 */
export async function createApp(
  config: AppConfig,
  root: DynamicModule = AppModule.forRoot(config),
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(root, createFastifyAdapter(config), {
    abortOnError: false,
  });
  return configureApp(app);
}

/** `migrate`: applies pending migrations under the migration lock, then returns. */
async function migrate(config: AppConfig): Promise<void> {
  const { url: given, dataDir } = config.database;
  const embedded = given ? undefined : EmbeddedPostgres.shared(dataDir);
  const url = given ?? (await embedded!.start());
  try {
    const options = await postgresOptions(url, 1, 'docs-api migrate');
    const dataSource = await connectDataSource(options);
    try {
      await runMigrationsLocked(dataSource, config.migrations);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    await embedded?.stop();
  }
}

/**
 * The process: `[port]` serves, `migrate` applies pending migrations and exits 0. Until it
 * serves, a signal stops it at once and a failure ends it with one fatal line (see
 * `Startup`); then SIGTERM and SIGINT drain it. `root` builds the application module from the
 * configuration (a test server adds routes of its own).
 */
export async function bootstrap(
  argv: readonly string[],
  root: (config: AppConfig) => DynamicModule = (config) => AppModule.forRoot(config),
): Promise<void> {
  const startup = new Startup();
  try {
    const migrateOnly = argv[0] === 'migrate';
    enterStartupPhase('reading the configuration');
    const config = loadConfig(readEnvironment(migrateOnly ? [] : argv));
    startup.useLogLevel(config.log.level);
    if (!config.database.url) {
      // Started before the application is built, so that a failure is its one line; the
      // database module then connects to this process's instance.
      enterStartupPhase('starting the embedded PostgreSQL');
      await EmbeddedPostgres.shared(config.database.dataDir).start();
    }
    if (migrateOnly) {
      await migrate(config);
      process.exit(0);
    }
    enterStartupPhase('building the application');
    const app = await createApp(config, root(config));
    enterStartupPhase('starting to listen');
    await listen(app, config.http);
    exitOnSignals(app, config.shutdown);
    startup.finish();
  } catch (error) {
    startup.fail(error);
  }
}
