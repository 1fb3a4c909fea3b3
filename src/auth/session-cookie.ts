import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply } from 'fastify';

/** Name of the cookie that carries the session token. */
export const SESSION_COOKIE = 'sid';

/** 256 random bits, base64url: 43 characters. */
export const SESSION_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

function attributes(secure: boolean): CookieSerializeOptions {
  return { httpOnly: true, sameSite: 'lax', path: '/', secure };
}

export function setSessionCookie(
  reply: FastifyReply,
  token: string,
  { maxAgeSeconds, secure }: { maxAgeSeconds: number; secure: boolean },
): void {
  void reply.setCookie(SESSION_COOKIE, token, { ...attributes(secure), maxAge: maxAgeSeconds });
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  void reply.clearCookie(SESSION_COOKIE, attributes(secure));
}
