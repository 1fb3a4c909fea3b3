import { Body, Controller, Delete, Get, HttpCode, Put, Req, Res } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import { clientInfo } from '../auth/client-info.js';
import { CurrentUser } from '../auth/decorators/auth.decorators.js';
import { clearSessionCookie } from '../auth/session-cookie.js';
import type { AppConfig } from '../common/config/app-config.js';
import { ChangePasswordDto } from './dto/change-password.dto.js';
import { DeleteAccountDto } from './dto/delete-account.dto.js';
import type { UserDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';
import { BodyLimit, SMALL_BODY_LIMIT_BYTES } from '../common/http/body-limit.js';
import { ApiProblem } from '../common/http/api-problem.decorator.js';
import { SESSION_BUDGET, SignInThrottle } from '../common/throttling/throttlers.js';
import { HashesPasswords } from '../auth/decorators/hashes-passwords.decorator.js';

@Controller('users/me')
export class UsersController {
  private readonly secureCookie: boolean;

  constructor(
    private readonly users: UsersService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.secureCookie = config.getOrThrow('auth', { infer: true }).cookieSecure;
  }

  /** The signed-in user. */
  @Get()
  me(@CurrentUser() caller: AuthContext): Promise<UserDto> {
    return this.users.me(caller);
  }

  /** Changes the password; every other session of the user ends. */
  @ApiProblem(401, 'No valid session, or the current password is wrong')
  @SignInThrottle(SESSION_BUDGET)
  @HashesPasswords()
  @BodyLimit(SMALL_BODY_LIMIT_BYTES)
  @Put('password')
  @HttpCode(204)
  changePassword(
    @CurrentUser() caller: AuthContext,
    @Body() body: ChangePasswordDto,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    return this.users.changePassword(
      caller,
      body.currentPassword,
      body.newPassword,
      clientInfo(request),
    );
  }

  /** Deletes the account and everything it owns, after confirming the password. */
  @ApiProblem(401, 'No valid session, or the password is wrong')
  @SignInThrottle(SESSION_BUDGET)
  @HashesPasswords()
  @BodyLimit(SMALL_BODY_LIMIT_BYTES)
  @Delete()
  @HttpCode(204)
  async deleteAccount(
    @CurrentUser() caller: AuthContext,
    @Body() body: DeleteAccountDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.users.deleteAccount(caller, body.password, clientInfo(request));
    clearSessionCookie(reply, this.secureCookie);
  }
}
