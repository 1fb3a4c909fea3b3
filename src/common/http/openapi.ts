import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';

/** The OpenAPI document of the application, built from its controllers and DTOs. */
export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Documents API')
    .setDescription(
      'Session-authenticated, cached document storage. Sign in with POST /auth/login: the ' +
        `session travels in the \`${SESSION_COOKIE}\` cookie, which the browser (and Swagger UI) ` +
        'sends with every later call.',
    )
    .setVersion('1.0.0')
    .addCookieAuth(
      SESSION_COOKIE,
      { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
      'session',
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs and the JSON at /docs-json. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), {
    swaggerOptions: { withCredentials: true, persistAuthorization: true },
  });
}
