import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * A row of the `users` table, whose schema is the seed's, column for column, so that a
 * database made for the seed works unchanged.
 */
@Entity({ name: 'users' })
@Unique('users_username_key', ['username'])
// Unique on lower(username): an expression index, made by its migration, that TypeORM
// cannot describe; declared so that schema comparison leaves it alone.
@Index('users_username_lower_key', { synchronize: false })
export class User {
  @PrimaryGeneratedColumn({ name: 'user_id', primaryKeyConstraintName: 'users_pkey' })
  userId: number;

  @Column({ type: 'varchar', length: 50 })
  username: string;

  /** bcrypt hash; never selected unless asked for. */
  @Column({ name: 'password', type: 'text', select: false })
  passwordHash: string;

  @Column({
    name: 'created_date',
    type: 'timestamp',
    nullable: true,
    default: () => 'CURRENT_TIMESTAMP',
  })
  createdDate: Date | null;

  /** The user's latest session. */
  @Column({ name: 'session_id', type: 'uuid', nullable: true, default: null })
  sessionId: string | null;
}
