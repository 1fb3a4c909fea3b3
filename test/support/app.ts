import type { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createFastifyAdapter } from '../../src/app.setup.js';
import { loadConfig, type AppConfig } from '../../src/common/config/app-config.js';
import { observeResponses } from './contract.js';

export interface RunningApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** Base URL of the listening server, e.g. http://127.0.0.1:40123 */
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Environment variables on top of the run's own. */
  env?: Record<string, string | undefined>;
  /** Controllers a suite adds next to the application's (slow or failing routes). */
  controllers?: Type[];
}

class TestRootModule {}

/**
 * What test servers run with unless a test says otherwise: quiet logs, the cheapest bcrypt
 * cost, and no rate limits that suites sharing one Redis could exhaust. Suites that test
 * those set their own.
 */
export const TEST_DEFAULTS = {
  LOG_LEVEL: 'silent',
  BCRYPT_COST: '4',
  LOGIN_RATE_LIMIT_MAX: '1000000',
  RATE_LIMIT_MAX: '0',
};

/**
 * The configuration a test server runs with: the process environment (DATABASE_URL and
 * REDIS_URL of the run), the test defaults, and the test's overrides.
 */
export function testConfig(env: Record<string, string | undefined> = {}): AppConfig {
  return loadConfig({ ...process.env, ...TEST_DEFAULTS, ...env });
}

/**
 * Starts the production application on an ephemeral loopback port, as `createApp` builds it,
 * with every response reported to the contract check.
 */
export async function startApp({ env, controllers }: StartOptions = {}): Promise<RunningApp> {
  const config = testConfig(env);
  const root: DynamicModule = controllers
    ? { module: TestRootModule, imports: [AppModule.forRoot(config)], controllers }
    : AppModule.forRoot(config);
  const app = await NestFactory.create<NestFastifyApplication>(root, createFastifyAdapter(config), {
    bufferLogs: true,
  });
  observeResponses(app.getHttpAdapter().getInstance());
  await configureApp(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
