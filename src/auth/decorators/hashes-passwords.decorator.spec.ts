import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { HasherBusyException } from '../hasher-busy.exception.js';
import type { PasswordHasher } from '../password-hasher.service.js';
import { HasherAvailableGuard } from './hashes-passwords.decorator.js';

const context = {} as ExecutionContext;

describe('HasherAvailableGuard', () => {
  it('lets the request through while the hasher takes hashes', () => {
    const hasher = { assertAvailable: () => undefined } as unknown as PasswordHasher;
    expect(new HasherAvailableGuard(hasher).canActivate(context)).toBe(true);
  });

  it('refuses with 503 HASHER_BUSY when the hasher would refuse the hash', () => {
    const hasher = {
      assertAvailable: () => {
        throw new HasherBusyException(3);
      },
    } as unknown as PasswordHasher;
    expect(() => new HasherAvailableGuard(hasher).canActivate(context)).toThrow(
      HasherBusyException,
    );
  });
});
