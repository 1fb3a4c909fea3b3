import { BadRequestException } from '@nestjs/common';

/** One page of a list; `nextCursor` goes back as `?cursor=` and is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
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
  throw new BadRequestException({ code: 'INVALID_CURSOR', message: 'cursor is not valid' });
}
