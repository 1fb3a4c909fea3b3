import { describe, expect, it, jest } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { TooManyRequestsException } from '../http/too-many-requests.exception.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import { ClientThrottlerGuard } from './client-throttler.guard.js';
import { ThrottleExemptions } from './throttle-exemptions.js';
import { SignInThrottle, throttlers, USERNAME_BUDGET } from './throttlers.js';

class Routes {
  plain(): void {}

  @SignInThrottle(USERNAME_BUDGET)
  login(): void {}
}

interface FakeReply {
  headers: Record<string, string>;
  header(name: string, value: string): FakeReply;
}

function reply(): FakeReply {
  return {
    headers: {},
    header(name, value) {
      this.headers[name] = value;
      return this;
    },
  };
}

function request(ip: string, body?: unknown): FastifyRequest {
  return { raw: { socket: { remoteAddress: ip } }, body, cookies: {} } as unknown as FastifyRequest;
}

function context(req: FastifyRequest, res: FakeReply, handler: () => void): ExecutionContext {
  const http = { getRequest: () => req, getResponse: () => res };
  return {
    getClass: () => Routes,
    getHandler: () => handler,
    getType: () => 'http',
    switchToHttp: () => http,
  } as unknown as ExecutionContext;
}

async function guard(
  { max = 2, signIn = 1 } = {},
  storage: ThrottlerStorage = new ThrottlerStorageService(),
) {
  const metrics = { countRateLimited: jest.fn() };
  const exemptions = new ThrottleExemptions();
  const instance = new ClientThrottlerGuard(
    { throttlers: throttlers({ max, windowMs: 60_000 }, signIn) },
    storage,
    new Reflector(),
    metrics as unknown as MetricsService,
    exemptions,
  );
  await instance.onModuleInit();
  return { instance, metrics, exemptions };
}

async function refusal(promise: Promise<unknown>): Promise<TooManyRequestsException> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TooManyRequestsException);
  return error as TooManyRequestsException;
}

describe('ClientThrottlerGuard', () => {
  it('counts down in the RateLimit headers, then refuses with RATE_LIMITED and Retry-After', async () => {
    const { instance, metrics } = await guard();
    for (const remaining of [1, 0]) {
      const res = reply();
      await expect(
        instance.canActivate(context(request('192.0.2.1'), res, Routes.prototype.plain)),
      ).resolves.toBe(true);
      expect(res.headers).toEqual({
        'ratelimit-policy': '2;w=60',
        ratelimit: expect.stringMatching(
          new RegExp(`^limit=2, remaining=${remaining}, reset=\\d+$`),
        ),
      });
    }
    const refused = await refusal(
      instance.canActivate(context(request('192.0.2.1'), reply(), Routes.prototype.plain)),
    );
    expect(refused.getResponse()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(metrics.countRateLimited).toHaveBeenCalledWith('ip');
  });

  it('counts IPv6 clients per /64', async () => {
    const { instance } = await guard({ max: 1 });
    const from = (ip: string) =>
      instance.canActivate(context(request(ip), reply(), Routes.prototype.plain));
    await expect(from('2001:db8:1:2::1')).resolves.toBe(true);
    await refusal(from('2001:db8:1:2:aaaa::9'));
    await expect(from('2001:db8:1:3::1')).resolves.toBe(true);
  });

  it('limits a login per account, unless an exemption vouches for the client', async () => {
    const { instance, metrics, exemptions } = await guard({ max: 100, signIn: 1 });
    const login = (ip: string, username: string) =>
      instance.canActivate(context(request(ip, { username }), reply(), Routes.prototype.login));
    await expect(login('192.0.2.10', 'alice')).resolves.toBe(true);
    const refused = await refusal(login('192.0.2.11', 'ALICE'));
    expect(refused.getResponse()).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
    expect(metrics.countRateLimited).toHaveBeenCalledWith('login');

    exemptions.register(USERNAME_BUDGET, (req) =>
      Promise.resolve((req.raw.socket.remoteAddress ?? '') === '192.0.2.12'),
    );
    await expect(login('192.0.2.12', 'alice')).resolves.toBe(true);
    await refusal(login('192.0.2.13', 'alice'));
  });

  it('applies no sign-in budget to routes not marked for it', async () => {
    const { instance } = await guard({ max: 100, signIn: 1 });
    for (let i = 0; i < 3; i++) {
      await expect(
        instance.canActivate(
          context(request('192.0.2.20', { username: 'bob' }), reply(), Routes.prototype.plain),
        ),
      ).resolves.toBe(true);
    }
  });

  it('lets requests through while the store fails, and with RATE_LIMIT_MAX=0', async () => {
    const failing: ThrottlerStorage = {
      increment: () => Promise.reject(new Error('connection refused')),
    };
    const { instance } = await guard({ max: 1 }, failing);
    for (let i = 0; i < 3; i++) {
      await expect(
        instance.canActivate(context(request('192.0.2.30'), reply(), Routes.prototype.plain)),
      ).resolves.toBe(true);
    }
    const off = (await guard({ max: 0 })).instance;
    for (let i = 0; i < 3; i++) {
      const res = reply();
      await expect(
        off.canActivate(context(request('192.0.2.31'), res, Routes.prototype.plain)),
      ).resolves.toBe(true);
      expect(res.headers).toEqual({});
    }
  });
});
