import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Groups of clashing names shown in the error; the count of the rest follows. */
const SHOWN_CLASHES = 20;

/**
 * Usernames unique regardless of case: `alice` and `ALICE` are one name. A unique index on
 * `lower(username)` (the `users` columns stay the seed's) enforces it for every later signup,
 * and login finds users through it. A database whose users already clash cannot take the
 * index: the migration stops and names them, for an operator to rename all but one of each.
 */
export class UsernamesUniqueIgnoringCase1764450000000 implements MigrationInterface {
  name = 'UsernamesUniqueIgnoringCase1764450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Writers (replicas still on the previous version) wait until the index exists, so no
    // clash can slip in between the check and the index.
    await queryRunner.query('LOCK TABLE users IN SHARE MODE');
    const clashes = (await queryRunner.query(`
      SELECT string_agg(format('%s (user_id %s)', username, user_id), ', ' ORDER BY user_id)
        AS names
      FROM users
      GROUP BY lower(username)
      HAVING count(*) > 1
      ORDER BY lower(username)`)) as { names: string }[];
    if (clashes.length > 0) throw new Error(clashMessage(clashes.map((row) => row.names)));
    await queryRunner.query(
      'CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX users_username_lower_key');
  }
}

function clashMessage(groups: string[]): string {
  const shown = groups.slice(0, SHOWN_CLASHES).map((names) => `[${names}]`);
  const more = groups.length > SHOWN_CLASHES ? `; and ${groups.length - SHOWN_CLASHES} more` : '';
  return (
    `Cannot make usernames unique regardless of case: ${groups.length} names are taken by ` +
    `more than one user, differing only in case: ${shown.join('; ')}${more}. Rename all but ` +
    'one user of each group (UPDATE users SET username = ... WHERE user_id = ...), then start again.'
  );
}
