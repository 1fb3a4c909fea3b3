import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LandingController } from './landing.controller.js';
import { ProblemDetailsFilter } from './problem-details.filter.js';

@Module({
  controllers: [LandingController],
  providers: [{ provide: APP_FILTER, useClass: ProblemDetailsFilter }],
})
export class HttpModule {}
