import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig, MigrationSettings } from '../config/app-config.js';
import { enterStartupPhase } from '../startup/startup-phase.js';
import { isDatabaseUnavailable } from './database-unavailable.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { prepareSchema } from './migrate.js';
import { connectDataSource, postgresOptions } from './typeorm-options.js';

/**
 * Owns the embedded PostgreSQL. Imported by the TypeORM root module, it shuts down after
 * the connection pool has closed.
 */
@Module({
  providers: [
    {
      provide: EmbeddedPostgres,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) =>
        EmbeddedPostgres.shared(config.getOrThrow('database', { infer: true }).dataDir),
    },
  ],
  exports: [EmbeddedPostgres],
})
class EmbeddedPostgresModule implements OnApplicationShutdown {
  constructor(private readonly embedded: EmbeddedPostgres) {}

  async onApplicationShutdown(): Promise<void> {
    await this.embedded.stop();
  }
}

/**
 * PostgreSQL through TypeORM: `DATABASE_URL`, else the embedded server. The DataSource exists
 * only once the schema is ready (`prepareSchema`: migrated under the lock, or checked), so
 * nothing queries an older schema.
 */
@Module({})
export class DatabaseModule {
  static forRoot(migrations: MigrationSettings): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          imports: [EmbeddedPostgresModule],
          inject: [ConfigService, EmbeddedPostgres],
          useFactory: async (
            config: ConfigService<AppConfig, true>,
            embedded: EmbeddedPostgres,
          ) => {
            const { url, poolMax } = config.getOrThrow('database', { infer: true });
            if (!url) enterStartupPhase('starting the embedded PostgreSQL');
            return {
              ...(await postgresOptions(url ?? (await embedded.start()), poolMax)),
              autoLoadEntities: true,
              // A database that cannot be reached yet (still starting, restarting) is tried
              // again; a migration that failed is not.
              retryAttempts: 5,
              retryDelay: 2_000,
              toRetry: isDatabaseUnavailable,
            };
          },
          dataSourceFactory: async (options) => {
            const dataSource = await connectDataSource(options!);
            try {
              await prepareSchema(dataSource, migrations);
            } catch (error) {
              await dataSource.destroy();
              throw error;
            }
            enterStartupPhase('building the application');
            return dataSource;
          },
        }),
      ],
    };
  }
}
