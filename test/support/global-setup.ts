import { execFileSync } from 'node:child_process';
import { Logger } from '@nestjs/common';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedPostgres } from '../../src/common/database/embedded-postgres.js';

declare global {
  var embeddedTestDatabase: EmbeddedPostgres | undefined;
}

/**
 * Gives the e2e run a PostgreSQL: `DATABASE_URL` when set (it must name a test database),
 * else a throw-away embedded cluster. Builds the server once for the suites that run it as
 * a child process, exactly as it is deployed.
 */
export default async function globalSetup(): Promise<void> {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (process.env.DATABASE_URL) {
    const name = new URL(process.env.DATABASE_URL).pathname.slice(1);
    if (!/test/i.test(name)) {
      throw new Error(
        `Refusing to run e2e tests against database "${name}": its name must contain "test"`,
      );
    }
  } else {
    // Global setup runs outside Jest's module system, so it uses the build.
    const built = '../../dist/common/database/embedded-postgres.js';
    const { EmbeddedPostgres } = (await import(
      built
    )) as typeof import('../../src/common/database/embedded-postgres.js');
    Logger.overrideLogger(['warn', 'error']);
    const dataDir = await mkdtemp(join(tmpdir(), 'docs-api-test-'));
    await chmod(dataDir, 0o755); // as root, the cluster's owner is the postgres user
    const embedded = new EmbeddedPostgres({
      dataDir,
      database: 'app_test',
      ephemeral: true,
    });
    process.env.DATABASE_URL = await embedded.start();
    globalThis.embeddedTestDatabase = embedded;
  }
}
