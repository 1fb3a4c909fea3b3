import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig, readEnvironment } from './common/config/app-config.js';
import { startEmbeddedPostgres } from './common/database/embedded-postgres.js';
import { exitOnSignals } from './common/http/graceful-shutdown.js';
import { listen } from './common/http/listen.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig(readEnvironment());
  // Lines logged before the application's logger exists wait for it, as Nest's own do.
  Logger.attachBuffer();
  if (!config.database.url) await startEmbeddedPostgres(config.database.dataDir);
  const app = await createApp(config);
  exitOnSignals(app, config.shutdown);
  await listen(app, config.http);
}

bootstrap().catch((error: unknown) => {
  // A configuration error is one line that names the variable; anything else is a crash.
  const message =
    error instanceof ConfigError
      ? error.message
      : `Startup failed: ${error instanceof Error ? error.stack : String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
