import {
  applyDecorators,
  Injectable,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiHashesPasswords } from '../../common/http/api-problem.decorator.js';
import { PasswordHasher } from '../password-hasher.service.js';

/**
 * Refuses a request with 503 `HASHER_BUSY` before its body is validated and its user looked
 * up, when the password hasher would refuse its hash anyway: during a sign-in flood the
 * refusals then cost the event loop next to nothing.
 */
@Injectable()
export class HasherAvailableGuard implements CanActivate {
  constructor(private readonly hasher: PasswordHasher) {}

  canActivate(_context: ExecutionContext): boolean {
    this.hasher.assertAvailable();
    return true;
  }
}

/**
 * The route checks or hashes a password: refused at once with 503 `HASHER_BUSY` while the
 * hash queue is full, and documented so in the OpenAPI document.
 */
export const HashesPasswords = () =>
  applyDecorators(UseGuards(HasherAvailableGuard), ApiHashesPasswords());
