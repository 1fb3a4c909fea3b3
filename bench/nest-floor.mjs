// NestJS's own floor, for reading the benchmark: the least a NestJS application on Fastify
// can do for the two read routes the baseline serves, with nothing of the app around it (no
// hooks, plugins, guards, pipes, logger or metrics). One controller, as bench/baseline.mjs:
//
//   GET /health/live     the JSON the app's liveness route answers
//   GET /documents/:id   one Redis GET of `bench:document:<id>`, the string replied as JSON
//
// What separates bare Fastify from this is the framework's share of a request; what separates
// this from the app is the app's. Environment: PORT, REDIS_URL.
import 'reflect-metadata';
import { Controller, Get, Module, Param, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';

const port = Number(process.env.PORT ?? 7880);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const LIVE = { status: 'ok', info: {}, error: {}, details: {} };

// Decorators applied by hand: this file is plain JavaScript.
const decorate = (decorators, target, key) =>
  Reflect.decorate(decorators, target, key, Object.getOwnPropertyDescriptor(target, key));

class HealthController {
  live() {
    return LIVE;
  }
}
decorate([Get('live')], HealthController.prototype, 'live');
Controller('health')(HealthController);

class DocumentsController {
  async read(id, reply) {
    const json = await redis.get(`bench:document:${id}`);
    if (json === null) return reply.code(404).send({ status: 404 });
    return reply.type('application/json; charset=utf-8').send(json);
  }
}
Param('id')(DocumentsController.prototype, 'read', 0);
Res()(DocumentsController.prototype, 'read', 1);
decorate([Get(':id')], DocumentsController.prototype, 'read');
Reflect.defineMetadata(
  'design:paramtypes',
  [String, Object],
  DocumentsController.prototype,
  'read',
);
Controller('documents')(DocumentsController);

class FloorModule {}
Module({ controllers: [HealthController, DocumentsController] })(FloorModule);

const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: false });
app.enableShutdownHooks();
await app.listen(port, '127.0.0.1');

const stop = async () => {
  await app.close();
  redis.disconnect();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
