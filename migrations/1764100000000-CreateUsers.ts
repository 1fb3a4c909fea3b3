import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The seed's `users` table, exactly. `IF NOT EXISTS` lets the service adopt a database that
 * the seed already created.
 */
export class CreateUsers1764100000000 implements MigrationInterface {
  name = 'CreateUsers1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS users (
        user_id SERIAL PRIMARY KEY,
        username VARCHAR(50) UNIQUE NOT NULL,
        password TEXT NOT NULL,
        created_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        session_id UUID DEFAULT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE users');
  }
}
