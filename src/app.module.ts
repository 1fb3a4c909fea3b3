import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { ConfigModule } from '@nestjs/config';
import type { AppConfig } from './common/config/app-config.js';
import { CacheStoreModule } from './common/cache/cache.module.js';
import { DatabaseModule } from './common/database/database.module.js';
import { HealthModule } from './common/health/health.module.js';
import { HttpModule } from './common/http/http.module.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { MetricsModule } from './common/metrics/metrics.module.js';
import { RedisModule } from './common/redis/redis.module.js';
import { ThrottlingModule } from './common/throttling/throttling.module.js';
import { DocumentsModule } from './documents/documents.module.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule {
  /** The whole application for one validated configuration. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [() => ({ ...config })],
        }),
        LoggingModule,
        DatabaseModule.forRoot(config.migrations),
        RedisModule,
        HealthModule,
        MetricsModule.forRoot(config),
        ThrottlingModule,
        CacheStoreModule,
        HttpModule,
        AuthModule,
        UsersModule,
        DocumentsModule,
      ],
    };
  }
}
