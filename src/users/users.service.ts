import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { AuthContext } from '../auth/auth-context.js';
import { AuthService } from '../auth/auth.service.js';
import { PasswordHasher } from '../auth/password-hasher.service.js';
import { SessionsService, type ClientInfo } from '../auth/sessions.service.js';
import { toUserDto, type UserDto } from './dto/user.dto.js';
import { User } from './entities/user.entity.js';

/** The signed-in user's own account. */
@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly auth: AuthService,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionsService,
  ) {}

  async me(caller: AuthContext): Promise<UserDto> {
    const user = await this.users.findOneBy({ userId: caller.userId });
    if (!user) throw new NotFoundException({ code: 'USER_NOT_FOUND', message: 'No such user' });
    return toUserDto(user);
  }

  /** Replaces the password and ends every other session of the user. */
  async changePassword(
    caller: AuthContext,
    currentPassword: string,
    newPassword: string,
    client: ClientInfo,
  ): Promise<void> {
    await this.auth.confirmPassword(caller, currentPassword, client);
    await this.users.update(caller.userId, { passwordHash: await this.hasher.hash(newPassword) });
    await this.sessions.revokeAll(caller.userId, caller.sessionId);
    this.logger.log({ userId: caller.userId, ip: client.ip }, 'Password changed');
  }

  /** Deletes the user; their sessions (and everything else they own) go with them. */
  async deleteAccount(caller: AuthContext, password: string, client: ClientInfo): Promise<void> {
    await this.auth.confirmPassword(caller, password, client);
    await this.users.delete({ userId: caller.userId });
    this.logger.log({ userId: caller.userId, ip: client.ip }, 'Account deleted');
  }
}
