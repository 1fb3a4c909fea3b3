import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { runMigrationsLocked } from './migrate.js';
import { postgresOptions } from './typeorm-options.js';

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

/** PostgreSQL through TypeORM: `DATABASE_URL`, else the embedded server; migrated at start. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [EmbeddedPostgresModule],
      inject: [ConfigService, EmbeddedPostgres],
      useFactory: async (config: ConfigService<AppConfig, true>, embedded: EmbeddedPostgres) => {
        const { url, poolMax } = config.getOrThrow('database', { infer: true });
        return {
          ...(await postgresOptions(url ?? (await embedded.start()), poolMax)),
          autoLoadEntities: true,
          retryAttempts: 5,
          retryDelay: 2_000,
        };
      },
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        try {
          await runMigrationsLocked(dataSource);
        } catch (error) {
          await dataSource.destroy();
          throw error;
        }
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
