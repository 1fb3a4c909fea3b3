import { Logger, SetMetadata, type ExecutionContext } from '@nestjs/common';
import {
  normalizeIp,
  type ThrottlerGetTrackerFunction,
  type ThrottlerOptions,
} from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { clientIp } from '../http/client-ip.js';

/**
 * The per-client budget of every route (RATE_LIMIT_MAX). @nestjs/throttler's name for its
 * first throttler, whose headers carry no suffix.
 */
export const CLIENT_BUDGET = 'default';
/** Sign-in attempts per client (LOGIN_RATE_LIMIT_MAX). */
export const SIGN_IN_BUDGET = 'sign-in';
/** Login attempts per named account, whatever the client. */
export const USERNAME_BUDGET = 'username';
/** Password checks per session, on routes that already hold one. */
export const SESSION_BUDGET = 'session';

const SIGN_IN_BUDGETS = 'throttling:sign-in-budgets';

/** The cookie that names a session; read here only to count attempts per session. */
const SESSION_COOKIE = 'sid';

/**
 * Puts a route that checks a password or creates an account under LOGIN_RATE_LIMIT_MAX per
 * window: per client always; per account named in the body (`username`), or per session
 * cookie (`session`) for routes that hold one.
 */
export const SignInThrottle = (...also: (typeof USERNAME_BUDGET | typeof SESSION_BUDGET)[]) =>
  SetMetadata(SIGN_IN_BUDGETS, [SIGN_IN_BUDGET, ...also]);

/** Counts only on routes marked with `SignInThrottle` for `name`. */
function onlyWhereMarked(name: string) {
  return (context: ExecutionContext): boolean => {
    const budgets = [context.getHandler(), context.getClass()]
      .map((target) => Reflect.getMetadata(SIGN_IN_BUDGETS, target) as string[] | undefined)
      .find(Boolean);
    return !budgets?.includes(name);
  };
}

/**
 * The client as a budget holder: its address, IPv6 ones by /64 (one customer's network, where
 * each device may pick any address).
 */
export function clientTracker(request: FastifyRequest): string {
  const address = clientIp(request);
  if (address === undefined) warnUnnamedClient();
  return normalizeIp(address ?? 'unknown');
}

let unnamedClientWarned = false;

/** Said once: only a proxy that sends no valid X-Forwarded-For on LISTEN_PATH gets here. */
function warnUnnamedClient(): void {
  if (unnamedClientWarned) return;
  unnamedClientWarned = true;
  new Logger('ClientAddress').warn(
    'A request on the Unix socket came without a valid X-Forwarded-For: such requests share one rate-limit budget; make the proxy in front set it',
  );
}

/** The account a login names, whatever its case; none when the body names none. */
export function usernameTracker(request: FastifyRequest): string {
  const username = (request.body as { username?: unknown } | undefined)?.username;
  return typeof username === 'string' ? username.toLowerCase() : '';
}

function sessionTracker(request: FastifyRequest): string {
  return request.cookies?.[SESSION_COOKIE] ?? '';
}

/**
 * A counter per budget and holder, across routes. Hashed: keys stay short, and a session
 * token or an account name never appears in the store.
 */
function budgetKey(_context: ExecutionContext, tracker: string, name: string): string {
  return createHash('sha256').update(`${name}:${tracker}`).digest('base64url');
}

/** The throttler's tracker signature, for a function of the Fastify request. */
function fromFastify(tracker: (request: FastifyRequest) => string): ThrottlerGetTrackerFunction {
  return (request) => tracker(request as FastifyRequest);
}

/** The named throttlers of the service, in the order they count a request. */
export function throttlers(
  rateLimit: { max: number; windowMs: number },
  signInMax: number,
): ThrottlerOptions[] {
  const ttl = rateLimit.windowMs;
  const common = { ttl, generateKey: budgetKey, setHeaders: false };
  const signIn = (name: string, tracker: (request: FastifyRequest) => string) => ({
    ...common,
    name,
    limit: signInMax,
    skipIf: onlyWhereMarked(name),
    getTracker: fromFastify(tracker),
  });
  return [
    {
      ...common,
      name: CLIENT_BUDGET,
      limit: rateLimit.max,
      getTracker: fromFastify(clientTracker),
    },
    signIn(SIGN_IN_BUDGET, clientTracker),
    signIn(USERNAME_BUDGET, usernameTracker),
    signIn(SESSION_BUDGET, sessionTracker),
  ];
}
