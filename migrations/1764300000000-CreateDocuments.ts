import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Documents, owned by a user and deleted with them. `version` starts at 1 and grows by one
 * with each change; it makes the ETag. Full-text search runs over title and content.
 */
export class CreateDocuments1764300000000 implements MigrationInterface {
  name = 'CreateDocuments1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE documents (
        document_id UUID NOT NULL DEFAULT gen_random_uuid(),
        owner_id INTEGER NOT NULL,
        title VARCHAR(200) NOT NULL,
        content TEXT NOT NULL,
        content_type VARCHAR(32) NOT NULL DEFAULT 'text/plain',
        visibility VARCHAR(16) NOT NULL DEFAULT 'private',
        version INTEGER NOT NULL DEFAULT 1,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT documents_pkey PRIMARY KEY (document_id),
        CONSTRAINT documents_owner_id_fkey FOREIGN KEY (owner_id)
          REFERENCES users (user_id) ON DELETE CASCADE,
        CONSTRAINT documents_content_type_check CHECK (content_type IN
          ('text/plain', 'text/markdown', 'text/html', 'application/json')),
        CONSTRAINT documents_visibility_check CHECK (visibility IN ('private', 'public'))
      )`);
    await queryRunner.query(
      'CREATE INDEX documents_owner_id_created_at_idx ON documents (owner_id, created_at, document_id)',
    );
    await queryRunner.query(
      'CREATE INDEX documents_created_at_idx ON documents (created_at, document_id)',
    );
    await queryRunner.query(
      `CREATE INDEX documents_search_idx ON documents
         USING GIN (to_tsvector('english', title || ' ' || content))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE documents');
  }
}
