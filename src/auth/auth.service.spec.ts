import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import type { User } from '../users/entities/user.entity.js';
import { AuthService } from './auth.service.js';
import { HasherBusyException } from './hasher-busy.exception.js';
import type { PasswordHasher } from './password-hasher.service.js';
import type { SessionsService } from './sessions.service.js';

const CHEAP_HASH = '$2b$04$abcdefghijklmnopqrstuuK1vZ0m8I3p9nH1q5wYbqk3r3wS0iW6';
const CLIENT = { ip: '127.0.0.1', userAgent: 'test' };

function serviceWith(hash: PasswordHasher['hash']) {
  const row = { userId: 7, username: 'alice', passwordHash: CHEAP_HASH };
  const builder = {
    select: () => builder,
    where: () => builder,
    getOne: async () => row,
  };
  const query = jest.fn(async (): Promise<unknown> => [[], 1]);
  const users = { createQueryBuilder: () => builder, query } as unknown as Repository<User>;
  const hasher = {
    verify: async () => true,
    needsRehash: () => true,
    hash,
  } as unknown as PasswordHasher;
  const create = jest.fn<SessionsService['create']>(
    async () => ({ token: 't'.repeat(43) }) as never,
  );
  const sessions = { create } as unknown as SessionsService;
  return { service: new AuthService(users, hasher, sessions), create, query };
}

describe('AuthService.login', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  it('signs in with the verified hash when the upgrade to the current cost is refused', async () => {
    const { service, create, query } = serviceWith(async () => {
      throw new HasherBusyException(3);
    });
    const { user } = await service.login({ username: 'alice', password: 'pw' }, CLIENT);
    expect(user).toEqual({ userId: 7, username: 'alice' });
    expect(query).not.toHaveBeenCalled();
    expect(create).toHaveBeenCalledWith(7, CLIENT, CHEAP_HASH);
  });

  it('stores the stronger hash when the upgrade runs', async () => {
    const { service, create, query } = serviceWith(async () => 'stronger');
    await service.login({ username: 'alice', password: 'pw' }, CLIENT);
    expect(query).toHaveBeenCalledTimes(1);
    expect(create).toHaveBeenCalledWith(7, CLIENT, 'stronger');
  });

  it('still fails on errors other than a busy hasher', async () => {
    const { service, create } = serviceWith(async () => {
      throw new Error('boom');
    });
    await expect(service.login({ username: 'alice', password: 'pw' }, CLIENT)).rejects.toThrow(
      'boom',
    );
    expect(create).not.toHaveBeenCalled();
  });
});
