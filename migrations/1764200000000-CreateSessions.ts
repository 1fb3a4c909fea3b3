import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions: several per user, each with its expiry. Only the SHA-256 of the cookie's token
 * is stored, so a copy of the table logs no one in. `users.session_id` keeps pointing at the
 * user's latest session, as the seed's column did.
 */
export class CreateSessions1764200000000 implements MigrationInterface {
  name = 'CreateSessions1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sessions (
        session_id UUID NOT NULL DEFAULT gen_random_uuid(),
        user_id INTEGER NOT NULL,
        token_hash BYTEA NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        expires_at TIMESTAMPTZ NOT NULL,
        user_agent VARCHAR(512),
        ip VARCHAR(64),
        CONSTRAINT sessions_pkey PRIMARY KEY (session_id),
        CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
        CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
          REFERENCES users (user_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(
      'CREATE INDEX sessions_user_id_created_at_idx ON sessions (user_id, created_at)',
    );
    await queryRunner.query('CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE sessions');
  }
}
