import {
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { IS_PUBLIC, SESSION_OPTIONAL } from './decorators/auth.decorators.js';
import { SESSION_COOKIE } from './session-cookie.js';
import { SessionsService } from './sessions.service.js';

/**
 * The global guard: every route needs a valid session cookie unless it is `@Public()`;
 * `@SessionOptional()` routes take one when it is there.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = request.cookies?.[SESSION_COOKIE];
    const auth = token ? await this.sessions.authenticate(token) : null;
    if (auth) {
      request.auth = auth;
      return true;
    }
    if (this.reflector.getAllAndOverride<boolean>(SESSION_OPTIONAL, targets)) return true;
    throw new UnauthorizedException({
      code: 'UNAUTHENTICATED',
      message: 'A valid session cookie is required',
    });
  }
}
