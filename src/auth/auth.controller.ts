import { Body, Controller, Delete, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../common/config/app-config.js';
import { PageQuery } from '../common/pagination/page.query.js';
import type { UserDto } from '../users/dto/user.dto.js';
import type { AuthContext } from './auth-context.js';
import { AuthService } from './auth.service.js';
import { clientInfo } from './client-info.js';
import { CurrentUser, Public } from './decorators/auth.decorators.js';
import { CredentialsDto } from './dto/credentials.dto.js';
import { SignedInDto } from './dto/signed-in.dto.js';
import type { SessionPageDto } from './dto/session.dto.js';
import {
  clearSessionCookie,
  DEVICE_COOKIE,
  setDeviceCookie,
  setSessionCookie,
} from './session-cookie.js';
import { SessionsService } from './sessions.service.js';
import { DEVICE_TTL_SECONDS, TrustedDevices } from './trusted-devices.service.js';
import { ApiProblem, ApiUsesDatabase } from '../common/http/api-problem.decorator.js';
import { SignInThrottle, USERNAME_BUDGET } from '../common/throttling/throttlers.js';
import { BodyLimit, SMALL_BODY_LIMIT_BYTES } from '../common/http/body-limit.js';
import { HashesPasswords } from './decorators/hashes-passwords.decorator.js';

@Controller('auth')
export class AuthController {
  private readonly secureCookie: boolean;

  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly devices: TrustedDevices,
    config: ConfigService<AppConfig, true>,
  ) {
    this.secureCookie = config.getOrThrow('auth', { infer: true }).cookieSecure;
  }

  /** Creates an account. 409 when the username is taken. */
  @Public()
  @ApiUsesDatabase()
  @ApiProblem(409, 'The username is taken (code USERNAME_TAKEN)')
  @SignInThrottle()
  @HashesPasswords()
  @BodyLimit(SMALL_BODY_LIMIT_BYTES)
  @Post('signup')
  signup(@Body() body: CredentialsDto, @Req() request: FastifyRequest): Promise<UserDto> {
    return this.auth.signup(body, clientInfo(request));
  }

  /** Signs in: a new session in the `sid` cookie; a new device also gets the `did` cookie. */
  @Public()
  @ApiUsesDatabase()
  @ApiProblem(401, 'Unknown username or wrong password: one answer for both')
  @SignInThrottle(USERNAME_BUDGET)
  @HashesPasswords()
  @BodyLimit(SMALL_BODY_LIMIT_BYTES)
  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: CredentialsDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SignedInDto> {
    const { user, token } = await this.auth.login(body, clientInfo(request));
    setSessionCookie(reply, token, {
      maxAgeSeconds: this.sessions.lifetimeSeconds,
      secure: this.secureCookie,
    });
    const device = await this.devices.remember(user.userId, request.cookies?.[DEVICE_COOKIE]);
    if (device) {
      setDeviceCookie(reply, device, {
        maxAgeSeconds: DEVICE_TTL_SECONDS,
        secure: this.secureCookie,
      });
    }
    return user;
  }

  /** Ends this session; its cookie stops working at once. */
  @Post('logout')
  @HttpCode(204)
  async logout(
    @CurrentUser() caller: AuthContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.sessions.revoke(caller.sessionId);
    clearSessionCookie(reply, this.secureCookie);
  }

  /** The caller's live sessions, newest first. */
  @Get('sessions')
  listSessions(
    @CurrentUser() caller: AuthContext,
    @Query() page: PageQuery,
  ): Promise<SessionPageDto> {
    return this.sessions.list(caller, page);
  }

  /** Ends every session of the caller, this one included. */
  @Delete('sessions')
  @HttpCode(204)
  async logoutEverywhere(
    @CurrentUser() caller: AuthContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.sessions.revokeAll(caller.userId);
    clearSessionCookie(reply, this.secureCookie);
  }
}
