import {
  Check,
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { User } from '../../users/entities/user.entity.js';

export const CONTENT_TYPES = [
  'text/plain',
  'text/markdown',
  'text/html',
  'application/json',
] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export const VISIBILITIES = ['private', 'public'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** A stored document. Private ones exist only for their owner. */
@Entity({ name: 'documents' })
@Check(
  'documents_content_type_check',
  `content_type IN ('text/plain', 'text/markdown', 'text/html', 'application/json')`,
)
@Check('documents_visibility_check', `visibility IN ('private', 'public')`)
@Index('documents_owner_id_created_at_idx', ['ownerId', 'createdAt', 'documentId'])
@Index('documents_created_at_idx', ['createdAt', 'documentId'])
// A GIN index over to_tsvector(title || ' ' || content): made by its migration, left alone by
// schema comparison, since TypeORM cannot describe an expression index.
@Index('documents_search_idx', { synchronize: false })
export class Document {
  @PrimaryGeneratedColumn('uuid', {
    name: 'document_id',
    primaryKeyConstraintName: 'documents_pkey',
  })
  documentId: string;

  @Column({ name: 'owner_id', type: 'integer' })
  ownerId: number;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({
    name: 'owner_id',
    referencedColumnName: 'userId',
    foreignKeyConstraintName: 'documents_owner_id_fkey',
  })
  owner?: Relation<User>;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  @Column({ type: 'text' })
  content: string;

  @Column({ name: 'content_type', type: 'varchar', length: 32, default: 'text/plain' })
  contentType: ContentType;

  @Column({ type: 'varchar', length: 16, default: 'private' })
  visibility: Visibility;

  @Column({ type: 'integer', default: 1 })
  version: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  updatedAt: Date;
}
