import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { writeFile } from 'node:fs/promises';
import { AppModule } from '../../app.module.js';
import { createFastifyAdapter } from '../../app.setup.js';
import { loadConfig } from '../config/app-config.js';
import { buildOpenApi } from './openapi.js';

/**
 * Writes the OpenAPI document (`openapi.json`, or the path given) from the module graph in
 * preview mode: no provider runs, so neither PostgreSQL nor Redis is needed.
 */
async function main(output = 'openapi.json'): Promise<void> {
  const config = loadConfig({});
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    createFastifyAdapter(config),
    { preview: true, logger: false },
  );
  const document = buildOpenApi(app);
  await writeFile(output, `${JSON.stringify(document, null, 2)}\n`);
  await app.close();
}

main(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
