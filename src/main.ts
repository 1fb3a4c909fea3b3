import 'reflect-metadata';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig, readEnvironment } from './common/config/app-config.js';
import { exitOnSignals } from './common/http/graceful-shutdown.js';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const app = await createApp(config);
  exitOnSignals(app, config.shutdown);
  await app.listen({ port: config.http.port, host: config.http.host });
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`Startup failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
