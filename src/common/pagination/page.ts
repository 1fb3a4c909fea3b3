import { BadRequestException } from '@nestjs/common';

/** One page of a list; `nextCursor` goes back as `?cursor=` and is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The one answer to a cursor that no list made. */
export function invalidCursor(): BadRequestException {
  return new BadRequestException({ code: 'INVALID_CURSOR', message: 'cursor is not valid' });
}

/** An opaque cursor for keyset pagination: the sort key of the last item of a page. */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key inside a cursor of `arity` parts; a cursor not made here is a 400. */
export function decodeCursor(cursor: string, arity: number): string[] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === arity &&
      key.every((part) => typeof part === 'string')
    ) {
      return key;
    }
  } catch {
    // reported below
  }
  throw invalidCursor();
}

/**
 * Where the next page of a list ordered by `(created_at, id)` descending starts: after the
 * item with this creation time (PostgreSQL's `created_at::text`, exact to the microsecond)
 * and this id.
 */
export interface CreatedAtKeyset {
  createdAt: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `timestamptz::text` as PostgreSQL writes it in ISO DateStyle: `2026-12-01 10:00:00.5+00`. */
const TIMESTAMPTZ_TEXT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d){0,2}$/;

/** The cursor of a page that ends with the item `(createdAt, id)`. */
export function encodeCreatedAtCursor({ createdAt, id }: CreatedAtKeyset): string {
  return encodeCursor([createdAt, id]);
}

/**
 * The position inside a `(created_at, id)` cursor, checked as far as its shape goes; a
 * cursor not made by `encodeCreatedAtCursor` is a 400 `INVALID_CURSOR`. Values of the right
 * shape that PostgreSQL still refuses (February 31st) are caught by `queryAfterCursor`.
 */
export function decodeCreatedAtCursor(cursor: string): CreatedAtKeyset {
  const [createdAt, id] = decodeCursor(cursor, 2);
  if (!TIMESTAMPTZ_TEXT.test(createdAt) || !UUID.test(id)) throw invalidCursor();
  return { createdAt, id };
}

/** SQLSTATE class 22, data exception: a value PostgreSQL cannot read as its type. */
const DATA_EXCEPTION = '22';

/**
 * Runs a list query whose only client-supplied values of a typed kind come from a decoded
 * cursor: a data exception from PostgreSQL is then the cursor's fault, a 400, not a 500.
 */
export async function queryAfterCursor<T>(query: Promise<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    const code = (error as { driverError?: { code?: unknown } }).driverError?.code;
    if (typeof code === 'string' && code.startsWith(DATA_EXCEPTION)) throw invalidCursor();
    throw error;
  }
}
