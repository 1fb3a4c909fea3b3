import { createHash, randomBytes } from 'node:crypto';

/** A new secret for a cookie: 256 random bits, base64url (see `SESSION_TOKEN_FORMAT`). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the database keeps of a cookie's secret: its SHA-256, never the secret itself. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
