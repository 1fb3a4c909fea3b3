import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { AuthContext } from '../auth/auth-context.js';
import { AuthService } from '../auth/auth.service.js';
import type { ClientInfo } from '../auth/sessions.service.js';
import type { CacheWrite } from '../documents/document-cache.js';
import { DocumentsService } from '../documents/documents.service.js';
import { toUserDto, type UserDto } from './dto/user.dto.js';
import { User } from './entities/user.entity.js';

/** The signed-in user's own account. */
@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly auth: AuthService,
    private readonly documents: DocumentsService,
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
    const verifiedHash = await this.auth.confirmPassword(caller, currentPassword, client);
    await this.auth.replacePassword(caller.userId, verifiedHash, newPassword, caller.sessionId);
    this.logger.log({ userId: caller.userId, ip: client.ip }, 'Password changed');
  }

  /**
   * Deletes the user; their sessions and documents go with them, and the documents leave the
   * cache before this answers.
   */
  async deleteAccount(caller: AuthContext, password: string, client: ClientInfo): Promise<void> {
    await this.auth.confirmPassword(caller, password, client);
    let documents: CacheWrite | undefined;
    try {
      await this.users.manager.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE', [caller.userId]);
        documents = await this.documents.removeAllOwnedBy(caller.userId, tx);
        await tx.delete(User, { userId: caller.userId });
      });
    } finally {
      await documents?.end();
    }
    this.logger.log({ userId: caller.userId, ip: client.ip }, 'Account deleted');
  }
}
