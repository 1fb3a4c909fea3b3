import { randomBytes } from 'node:crypto';
import { call, sessionFrom } from './http.js';

/** A username no other test uses. */
export function uniqueName(prefix = 'user'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export const PASSWORD = 'correct horse battery';

export interface Account {
  userId: number;
  username: string;
  password: string;
}

/** Signs up a fresh account. */
export async function signup(baseUrl: string, password = PASSWORD): Promise<Account> {
  const username = uniqueName();
  const reply = await call(baseUrl, 'POST', '/auth/signup', { body: { username, password } });
  if (reply.status !== 201) throw new Error(`signup failed: ${reply.status} ${reply.text}`);
  return { userId: (reply.body as { userId: number }).userId, username, password };
}

/** Logs in and returns the session token. */
export async function login(
  baseUrl: string,
  account: Account,
  userAgent?: string,
): Promise<string> {
  const reply = await call(baseUrl, 'POST', '/auth/login', {
    body: { username: account.username, password: account.password },
    headers: userAgent ? { 'user-agent': userAgent } : {},
  });
  if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`);
  return sessionFrom(reply);
}
