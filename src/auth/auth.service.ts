import { ConflictException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { User } from '../users/entities/user.entity.js';
import { toUserDto, type UserDto } from '../users/dto/user.dto.js';
import type { AuthContext } from './auth-context.js';
import type { CredentialsDto } from './dto/credentials.dto.js';
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

  /** Creates an account; the unique index decides between concurrent signups for a name. */
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
    const user = await this.users.findOne({
      where: { username },
      select: { userId: true, username: true, passwordHash: true },
    });
    const valid = user
      ? await this.hasher.verify(password, user.passwordHash)
      : await this.hasher.verifyNothing(password);
    if (!user || !valid) {
      this.logger.warn({ username, ip: client.ip }, 'Login failed');
      throw invalidCredentials();
    }
    if (this.hasher.needsRehash(user.passwordHash)) {
      await this.users.update(user.userId, { passwordHash: await this.hasher.hash(password) });
    }
    const { token } = await this.sessions.create(user.userId, client);
    this.logger.log({ userId: user.userId, ip: client.ip }, 'Login succeeded');
    return { user: { userId: user.userId, username: user.username }, token };
  }

  /**
   * Confirms the signed-in user's password before a sensitive change; its routes count
   * attempts per session (`SignInThrottle`), not against the account's public budget.
   */
  async confirmPassword(auth: AuthContext, password: string, client: ClientInfo): Promise<void> {
    const user = await this.users.findOne({
      where: { userId: auth.userId },
      select: { userId: true, passwordHash: true },
    });
    if (!user || !(await this.hasher.verify(password, user.passwordHash))) {
      this.logger.warn({ userId: auth.userId, ip: client.ip }, 'Password confirmation failed');
      throw invalidCredentials();
    }
  }
}
