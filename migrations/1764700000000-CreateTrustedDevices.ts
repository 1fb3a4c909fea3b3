import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Devices that signed in to an account: the device cookie's token, of which only the
 * SHA-256 is stored, vouches for the client when the account's public sign-in budget is spent
 * by someone else.
 */
export class CreateTrustedDevices1764700000000 implements MigrationInterface {
  name = 'CreateTrustedDevices1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE trusted_devices (
        token_hash BYTEA NOT NULL,
        user_id INTEGER NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        expires_at TIMESTAMPTZ NOT NULL,
        CONSTRAINT trusted_devices_pkey PRIMARY KEY (token_hash),
        CONSTRAINT trusted_devices_user_id_fkey FOREIGN KEY (user_id)
          REFERENCES users (user_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(
      'CREATE INDEX trusted_devices_user_id_created_at_idx ON trusted_devices (user_id, created_at)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE trusted_devices');
  }
}
