import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { User } from '../users/entities/user.entity.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { Session } from './entities/session.entity.js';
import { PasswordHasher } from './password-hasher.service.js';
import { SessionGuard } from './session.guard.js';
import { SessionsService } from './sessions.service.js';
import { TrustedDevices } from './trusted-devices.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([User, Session])],
  controllers: [AuthController],
  providers: [
    AuthService,
    SessionsService,
    TrustedDevices,
    PasswordHasher,
    { provide: APP_GUARD, useClass: SessionGuard },
  ],
  exports: [AuthService, SessionsService, PasswordHasher],
})
export class AuthModule {}
