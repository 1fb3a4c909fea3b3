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

/** Name of the cookie that marks a device which signed in to an account before. */
export const DEVICE_COOKIE = 'did';

/**
 * The device cookie goes only to the login route, and never with a cross-site request: it
 * matters there alone, and nowhere else can it leak.
 */
export function setDeviceCookie(
  reply: FastifyReply,
  token: string,
  { maxAgeSeconds, secure }: { maxAgeSeconds: number; secure: boolean },
): void {
  void reply.setCookie(DEVICE_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/auth/login',
    secure,
    maxAge: maxAgeSeconds,
  });
}
