import {
  applyDecorators,
  createParamDecorator,
  SetMetadata,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth-context.js';

export const IS_PUBLIC = 'auth:public';
export const SESSION_OPTIONAL = 'auth:optional';

/** How a route uses the session; the OpenAPI document turns it into `security`. */
export const SESSION_EXTENSION = 'x-session';

/** The route needs no session, and the guard does not look for one. */
export const Public = () =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(SESSION_EXTENSION, 'none'));

/** The route serves anonymous callers too, and knows who is calling when a session is sent. */
export const SessionOptional = () =>
  applyDecorators(SetMetadata(SESSION_OPTIONAL, true), ApiExtension(SESSION_EXTENSION, 'optional'));

/** The caller's `AuthContext`; `undefined` on a `@SessionOptional()` route without a session. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthContext | undefined =>
    context.switchToHttp().getRequest<FastifyRequest>().auth,
);
