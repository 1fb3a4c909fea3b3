import { ConflictException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { User } from '../users/entities/user.entity.js';
import { toUserDto, type UserDto } from '../users/dto/user.dto.js';
import type { AuthContext } from './auth-context.js';
import type { CredentialsDto } from './dto/credentials.dto.js';
import { HasherBusyException } from './hasher-busy.exception.js';
import { PasswordHasher } from './password-hasher.service.js';
import { SessionsService, type ClientInfo } from './sessions.service.js';

const UNIQUE_VIOLATION = '23505';

/** The same answer for an unknown username and a wrong password. */
function invalidCredentials(): UnauthorizedException {
  return new UnauthorizedException({
    code: 'INVALID_CREDENTIALS',
    message: 'Username or password is incorrect',
  });
}

/** Accounts and sign-in: signup, login, logout and password confirmation. */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionsService,
  ) {}

  /**
   * Creates an account; the unique indexes decide between concurrent signups for a name, in
   * any case (`alice` and `ALICE` are one name).
   */
  async signup({ username, password }: CredentialsDto, client: ClientInfo): Promise<UserDto> {
    const passwordHash = await this.hasher.hash(password);
    try {
      const [row] = await this.users.query<User[]>(
        `INSERT INTO users (username, password) VALUES ($1, $2)
         RETURNING user_id AS "userId", username, created_date AS "createdDate"`,
        [username, passwordHash],
      );
      this.logger.log({ userId: row.userId, ip: client.ip }, 'Account created');
      return toUserDto(row);
    } catch (error) {
      if (
        error instanceof QueryFailedError &&
        (error.driverError as { code?: string }).code === UNIQUE_VIOLATION
      ) {
        throw new ConflictException({ code: 'USERNAME_TAKEN', message: 'That username is taken' });
      }
      throw error;
    }
  }

  /** Checks the password and opens a new session: the token for the cookie. */
  async login(
    { username, password }: CredentialsDto,
    client: ClientInfo,
  ): Promise<{ user: Pick<UserDto, 'userId' | 'username'>; token: string }> {
    const user = await this.findForLogin(username);
    const valid = user
      ? await this.hasher.verify(password, user.passwordHash)
      : await this.hasher.verifyNothing(password);
    if (!user || !valid) {
      this.logger.warn({ username, ip: client.ip }, 'Login failed');
      throw invalidCredentials();
    }
    const verifiedHash = await this.upgradeHash(user.userId, user.passwordHash, password);
    const session = await this.sessions.create(user.userId, client, verifiedHash);
    if (!session) {
      this.logger.warn({ userId: user.userId, ip: client.ip }, 'Login failed: password changed');
      throw invalidCredentials();
    }
    this.logger.log({ userId: user.userId, ip: client.ip }, 'Login succeeded');
    return { user: { userId: user.userId, username: user.username }, token: session.token };
  }

  /** The user a name belongs to, whatever its case (through the `lower(username)` index). */
  private findForLogin(username: string): Promise<User | null> {
    return this.users
      .createQueryBuilder('user')
      .select(['user.userId', 'user.username', 'user.passwordHash'])
      .where('lower(user.username) = lower(:username)', { username })
      .getOne();
  }

  /**
   * Replaces `verifiedHash` by a hash at the current cost when it was made at a lower one,
   * unless the password changed meanwhile; returns the hash the user's row now holds for
   * `password` as far as this login knows. A busy hasher postpones the upgrade to a later
   * login: the password is already verified, and refusing the sign-in would gain nothing.
   */
  private async upgradeHash(
    userId: number,
    verifiedHash: string,
    password: string,
  ): Promise<string> {
    if (!this.hasher.needsRehash(verifiedHash)) return verifiedHash;
    let rehashed: string;
    try {
      rehashed = await this.hasher.hash(password);
    } catch (error) {
      if (error instanceof HasherBusyException) return verifiedHash;
      throw error;
    }
    const [, replaced] = await this.users.query<[unknown, number]>(
      'UPDATE users SET password = $3 WHERE user_id = $1 AND password = $2',
      [userId, verifiedHash, rehashed],
    );
    return replaced > 0 ? rehashed : verifiedHash;
  }

  /**
   * Replaces the password of `userId`, provided `verifiedHash` (the hash the current password
   * was checked against) is still the stored one, and ends every session but `keep` in the
   * same transaction. The UPDATE holds the user's row until the commit, the lock that session
   * creation takes: no session made with the old password outlives this.
   */
  async replacePassword(
    userId: number,
    verifiedHash: string,
    newPassword: string,
    keep: string,
  ): Promise<void> {
    const newHash = await this.hasher.hash(newPassword);
    await this.users.manager.transaction(async (tx) => {
      const [, replaced] = await tx.query<[unknown, number]>(
        'UPDATE users SET password = $3 WHERE user_id = $1 AND password = $2',
        [userId, verifiedHash, newHash],
      );
      // Another change won the race: the password this request gave is no longer current.
      if (replaced === 0) throw invalidCredentials();
      await this.sessions.revokeAll(userId, keep, tx);
    });
  }

  /**
   * Confirms the signed-in user's password before a sensitive change; its routes count
   * attempts per session (`SignInThrottle`), not against the account's public budget. Returns
   * the hash the password was checked against.
   */
  async confirmPassword(auth: AuthContext, password: string, client: ClientInfo): Promise<string> {
    const user = await this.users.findOne({
      where: { userId: auth.userId },
      select: { userId: true, passwordHash: true },
    });
    if (!user || !(await this.hasher.verify(password, user.passwordHash))) {
      this.logger.warn({ userId: auth.userId, ip: client.ip }, 'Password confirmation failed');
      throw invalidCredentials();
    }
    return user.passwordHash;
  }
}
