import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/** TypeORM's report of a migration it has committed, or reverted. */
const DONE = /^Migration (\S+) has been (executed|reverted) successfully\.$/;

/**
 * TypeORM's logger: each migration applied (or reverted) is an info line as soon as its
 * transaction commits; TypeORM's other notes on migrations are debug lines. Queries are never
 * logged, nor their failures: their parameters and PostgreSQL's messages quote values (token
 * and password hashes, document content). Those failures reach the log through the exception
 * filter's serializer, without values.
 */
export class MigrationLog implements TypeOrmLogger {
  private readonly logger = new Logger('Migrations');

  logSchemaBuild(message: string): void {
    const done = DONE.exec(message);
    if (!done) {
      this.logger.debug(message);
      return;
    }
    const [, name, what] = done;
    this.logger.log(`${what === 'executed' ? 'Applied' : 'Reverted'} migration ${name}`);
  }

  /** A failure: the error itself ends the run, and is reported by whoever ran it. */
  logMigration(message: string): void {
    this.logger.debug(message);
  }

  logQuery(): void {}
  logQueryError(): void {}
  logQuerySlow(): void {}
  log(): void {}
}
