import {
  BadRequestException,
  ForbiddenException,
  Injectable,
  NotFoundException,
  PreconditionFailedException,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AuthContext } from '../auth/auth-context.js';
import {
  decodeCreatedAtCursor,
  encodeCreatedAtCursor,
  queryAfterCursor,
  type Page,
} from '../common/pagination/page.js';
import { DocumentCache, type CacheOutcome, type CacheWrite } from './document-cache.js';
import type { CreateDocumentDto } from './dto/create-document.dto.js';
import type { DocumentDto, DocumentSummaryDto } from './dto/document.dto.js';
import type { ListDocumentsQuery } from './dto/list-documents.query.js';
import type { UpdateDocumentDto } from './dto/update-document.dto.js';
import type { ContentType, Visibility } from './entities/document.entity.js';

interface DocumentRow {
  document_id: string;
  owner_id: number;
  title: string;
  content?: string;
  content_type: ContentType;
  visibility: Visibility;
  version: number;
  created_at: Date;
  updated_at: Date;
  created_at_key?: string;
}

const SUMMARY_COLUMNS = `document_id, owner_id, title, content_type, visibility, version,
  created_at, updated_at`;
const COLUMNS = `${SUMMARY_COLUMNS}, content`;

function toSummary(row: DocumentRow): DocumentSummaryDto {
  return {
    id: row.document_id,
    ownerId: row.owner_id,
    title: row.title,
    contentType: row.content_type,
    visibility: row.visibility,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toDocument(row: DocumentRow): DocumentDto {
  const { id, ownerId, title, contentType, visibility, version, createdAt, updatedAt } =
    toSummary(row);
  return {
    id,
    ownerId,
    title,
    content: row.content ?? '',
    contentType,
    visibility,
    version,
    createdAt,
    updatedAt,
  };
}

/** A strong validator for one version of one document. */
export function etagOf(document: Pick<DocumentDto, 'id' | 'version'>): string {
  return `"${document.id}.${document.version}"`;
}

function notFound(): NotFoundException {
  return new NotFoundException({ code: 'DOCUMENT_NOT_FOUND', message: 'No such document' });
}

function canRead(document: DocumentDto, caller?: AuthContext): boolean {
  return document.visibility === 'public' || document.ownerId === caller?.userId;
}

/** Documents in PostgreSQL, read through the document cache. */
@Injectable()
export class DocumentsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly cache: DocumentCache,
  ) {}

  async create(caller: AuthContext, input: CreateDocumentDto): Promise<DocumentDto> {
    const [row] = await this.db.query<DocumentRow[]>(
      `INSERT INTO documents (owner_id, title, content, content_type, visibility)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [
        caller.userId,
        input.title,
        input.content,
        input.contentType ?? 'text/plain',
        input.visibility ?? 'private',
      ],
    );
    return toDocument(row);
  }

  /**
   * A document the caller may read, and how the cache served it. A private document of
   * someone else does not exist for the caller, cached or not.
   */
  async read(
    id: string,
    caller?: AuthContext,
  ): Promise<{ document: DocumentDto; cache: CacheOutcome }> {
    const { record, outcome } = await this.cache.read(id, (key) => this.load(key));
    if (!record || !canRead(record, caller)) throw notFound();
    return { document: record, cache: outcome };
  }

  /** Applies a change when `ifMatch` (if given) names the current version. */
  async update(
    id: string,
    caller: AuthContext,
    change: UpdateDocumentDto,
    ifMatch?: string,
  ): Promise<DocumentDto> {
    const fields = Object.entries({
      title: change.title,
      content: change.content,
      content_type: change.contentType,
      visibility: change.visibility,
    }).filter(([, value]) => value !== undefined);
    if (fields.length === 0) {
      throw new BadRequestException({ code: 'EMPTY_CHANGE', message: 'Nothing to change' });
    }
    const current = await this.load(id);
    if (!current || !canRead(current, caller)) throw notFound();
    if (current.ownerId !== caller.userId) throw notOwner();
    const expected =
      ifMatch === undefined ? current.version : this.versionMatching(current, ifMatch);

    const assignments = fields.map(([column], i) => `${column} = $${i + 3}`).join(', ');
    const rows = await this.writing(id, async () => {
      const [updated] = await this.db.query<[DocumentRow[], number]>(
        `UPDATE documents SET ${assignments}, version = version + 1, updated_at = clock_timestamp()
         WHERE document_id = $1 AND ($2::integer IS NULL OR version = $2) RETURNING ${COLUMNS}`,
        [id, expected, ...fields.map(([, value]) => value)],
      );
      return updated;
    });
    if (rows.length === 0) throw expected === null ? notFound() : preconditionFailed();
    return toDocument(rows[0]);
  }

  async remove(id: string, caller: AuthContext): Promise<void> {
    const current = await this.load(id);
    if (!current || !canRead(current, caller)) throw notFound();
    if (current.ownerId !== caller.userId) throw notOwner();
    await this.writing(id, () =>
      this.db.query('DELETE FROM documents WHERE document_id = $1', [id]),
    );
  }

  /** The documents the caller can see, newest first, optionally matching `q`. */
  async list(
    caller: AuthContext | undefined,
    query: ListDocumentsQuery,
  ): Promise<Page<DocumentSummaryDto>> {
    const after = query.cursor ? decodeCreatedAtCursor(query.cursor) : null;
    const rows = await queryAfterCursor(
      this.db.query<DocumentRow[]>(
        `SELECT ${SUMMARY_COLUMNS}, created_at::text AS created_at_key
       FROM documents
       WHERE (visibility = 'public' OR owner_id = $1)
         AND ($2::text IS NULL
              OR to_tsvector('english', title || ' ' || content) @@ websearch_to_tsquery('english', $2))
         AND ($3::timestamptz IS NULL OR (created_at, document_id) < ($3::timestamptz, $4::uuid))
       ORDER BY created_at DESC, document_id DESC
       LIMIT $5`,
        [
          caller?.userId ?? null,
          query.q ?? null,
          after?.createdAt ?? null,
          after?.id ?? null,
          query.limit + 1,
        ],
      ),
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map(toSummary),
      nextCursor:
        rows.length > query.limit && last
          ? encodeCreatedAtCursor({ createdAt: last.created_at_key!, id: last.document_id })
          : null,
    };
  }

  /**
   * Deletes every document of a user inside the caller's transaction, which must hold the
   * user's row locked (so that no document can be added meanwhile), and fences them in the
   * cache before the commit. The caller ends the returned write once the transaction has
   * committed or failed.
   */
  async removeAllOwnedBy(userId: number, tx: EntityManager): Promise<CacheWrite> {
    const [rows] = await tx.query<[{ document_id: string }[], number]>(
      'DELETE FROM documents WHERE owner_id = $1 RETURNING document_id',
      [userId],
    );
    return this.cache.beginWrite(rows.map((row) => row.document_id));
  }

  /** Runs one statement that changes document `id`, fenced in the cache around its commit. */
  private async writing<T>(id: string, statement: () => Promise<T>): Promise<T> {
    const write = await this.cache.beginWrite([id]);
    try {
      return await statement();
    } finally {
      await write.end();
    }
  }

  private async load(id: string): Promise<DocumentDto | null> {
    const [row] = await this.db.query<DocumentRow[]>(
      `SELECT ${COLUMNS} FROM documents WHERE document_id = $1`,
      [id],
    );
    return row ? toDocument(row) : null;
  }

  private versionMatching(current: DocumentDto, ifMatch: string): number {
    const tags = ifMatch.split(',').map((tag) => tag.trim());
    if (tags.includes('*') || tags.includes(etagOf(current))) return current.version;
    throw preconditionFailed();
  }
}

function notOwner(): ForbiddenException {
  return new ForbiddenException({
    code: 'NOT_OWNER',
    message: 'Only the owner can change this document',
  });
}

function preconditionFailed(): PreconditionFailedException {
  return new PreconditionFailedException({
    code: 'PRECONDITION_FAILED',
    message: 'The document has changed since the version named in If-Match',
  });
}
