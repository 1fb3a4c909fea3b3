import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthContext } from './auth-context.js';
import { Public, SessionOptional } from './decorators/auth.decorators.js';
import { SessionGuard } from './session.guard.js';
import type { SessionsService } from './sessions.service.js';

class Routes {
  @Public()
  open(): void {}

  @SessionOptional()
  either(): void {}

  closed(): void {}
}

const ALICE: AuthContext = { userId: 1, username: 'alice', sessionId: 's-1' };
const TOKEN = 'a'.repeat(43);

function contextFor(handler: keyof Routes, cookies: Record<string, string> = {}) {
  const request: { cookies: Record<string, string>; auth?: AuthContext } = { cookies };
  const context = {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
  return { context, request };
}

describe('SessionGuard', () => {
  const authenticate = jest.fn<SessionsService['authenticate']>();
  const guard = new SessionGuard(new Reflector(), { authenticate } as unknown as SessionsService);

  beforeEach(() => {
    authenticate.mockReset();
  });

  it('lets a public route through without looking for a session', async () => {
    const { context } = contextFor('open', { sid: TOKEN });
    await expect(guard.canActivate(context)).resolves.toBe(true);
    expect(authenticate).not.toHaveBeenCalled();
  });

  it('attaches the caller of a valid session', async () => {
    authenticate.mockResolvedValue(ALICE);
    const { context, request } = contextFor('closed', { sid: TOKEN });
    await expect(guard.canActivate(context)).resolves.toBe(true);
    expect(authenticate).toHaveBeenCalledWith(TOKEN);
    expect(request.auth).toEqual(ALICE);
  });

  it('refuses a protected route without a cookie', async () => {
    const { context } = contextFor('closed');
    await expect(guard.canActivate(context)).rejects.toThrow(UnauthorizedException);
    expect(authenticate).not.toHaveBeenCalled();
  });

  it('refuses a protected route whose session is unknown or expired', async () => {
    authenticate.mockResolvedValue(null);
    const { context } = contextFor('closed', { sid: TOKEN });
    await expect(guard.canActivate(context)).rejects.toThrow(UnauthorizedException);
  });

  it('serves an optional-session route anonymously, and with the caller when there is one', async () => {
    authenticate.mockResolvedValue(null);
    const anonymous = contextFor('either', { sid: TOKEN });
    await expect(guard.canActivate(anonymous.context)).resolves.toBe(true);
    expect(anonymous.request.auth).toBeUndefined();

    authenticate.mockResolvedValue(ALICE);
    const known = contextFor('either', { sid: TOKEN });
    await expect(guard.canActivate(known.context)).resolves.toBe(true);
    expect(known.request.auth).toEqual(ALICE);
  });
});
