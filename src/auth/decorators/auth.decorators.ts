import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth-context.js';

export const IS_PUBLIC = 'auth:public';
export const SESSION_OPTIONAL = 'auth:optional';

/** The route needs no session, and the guard does not look for one. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** The route serves anonymous callers too, and knows who is calling when a session is sent. */
export const SessionOptional = () => SetMetadata(SESSION_OPTIONAL, true);

/** The caller's `AuthContext`; `undefined` on a `@SessionOptional()` route without a session. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthContext | undefined =>
    context.switchToHttp().getRequest<FastifyRequest>().auth,
);
