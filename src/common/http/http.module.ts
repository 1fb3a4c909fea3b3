import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LandingController } from './landing.controller.js';
import { ProblemDetailsFilter } from './problem-details.filter.js';
import { RouteMethods } from './route-methods.js';

@Global()
@Module({
  controllers: [LandingController],
  providers: [RouteMethods, { provide: APP_FILTER, useClass: ProblemDetailsFilter }],
  exports: [RouteMethods],
})
export class HttpModule {}
