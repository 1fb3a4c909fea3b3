import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, getSchemaPath, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { SESSION_EXTENSION } from '../../auth/decorators/auth.decorators.js';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { DATABASE_EXTENSION, HASHER_EXTENSION } from './api-problem.decorator.js';
import { BODY_LIMIT_EXTENSION } from './body-limit.js';
import { ProblemDetailsDto } from './problem-details.dto.js';
import { RATE_LIMIT_EXTENSION } from '../throttling/unthrottled.decorator.js';

type OperationObject = NonNullable<OpenAPIObject['paths'][string]['get']>;
type ResponsesObject = OperationObject['responses'];

const SCHEME = 'session';
const STATE_CHANGING = new Set(['post', 'put', 'patch', 'delete']);

/** Answers that the server's global parts (hooks, guard, pipes, filter) can give on a route. */
const COMMON_PROBLEMS: Record<string, string> = {
  '405': 'The path does not take this method; `Allow` lists the methods it does',
  '429': 'Too many requests from this client (`Retry-After` says when to retry)',
  '500': 'An unexpected error; the body names only the request id',
};
const SESSION_PROBLEMS: Record<string, string> = {
  '401': 'No valid session cookie',
};
const BODY_PROBLEMS: Record<string, string> = {
  '400':
    'Malformed JSON, a body beyond the bounds on its structure (code BODY_TOO_COMPLEX: keys per ' +
    'object, values in all; nesting: MALFORMED_JSON), or a field that is missing, null, of the ' +
    'wrong type or out of bounds',
  '403': 'A browser Origin that is neither this server nor one of CORS_ORIGINS',
  '413': 'A body larger than BODY_LIMIT_BYTES',
  '415': 'A body that is not application/json',
};
const DATABASE_PROBLEMS: Record<string, string> = {
  '503':
    'PostgreSQL cannot be reached (code DATABASE_UNAVAILABLE); `Retry-After` says when to retry',
};
const HASHER_PROBLEMS: Record<string, string> = {
  '503':
    'PostgreSQL cannot be reached (code DATABASE_UNAVAILABLE), or more password checks are ' +
    'waiting than the server takes (code HASHER_BUSY, answered at once); `Retry-After` says ' +
    'when to retry',
};
const QUERY_PROBLEMS: Record<string, string> = {
  '400':
    'A query parameter of the wrong type or out of bounds, or too many of them (code ' +
    'QUERY_TOO_COMPLEX)',
};

const RETRY_AFTER = {
  description: 'Seconds until the client may try again',
  schema: { type: 'integer', minimum: 0 },
};

/** Headers of the problem responses that carry one. */
const PROBLEM_HEADERS: Record<string, Record<string, { description: string; schema: object }>> = {
  '405': {
    Allow: { description: 'The methods this path takes', schema: { type: 'string' } },
  },
  '429': { 'Retry-After': RETRY_AFTER },
  '503': { 'Retry-After': RETRY_AFTER },
};

function problem(status: string, description: string) {
  return {
    description,
    ...(PROBLEM_HEADERS[status] ? { headers: PROBLEM_HEADERS[status] } : {}),
    content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDetailsDto) } } },
  };
}

/**
 * Completes each operation with what the global parts of the server do: its security (the
 * session cookie, none, or either, from `@Public()` and `@SessionOptional()`) and the problem
 * responses they can give, 503 included wherever PostgreSQL is needed.
 */
function completeOperation(method: string, operation: OperationObject): void {
  const extensions = operation as OperationObject & Record<string, unknown>;
  const session = (extensions[SESSION_EXTENSION] as string | undefined) ?? 'required';
  // Looking a session up takes PostgreSQL, so every route that reads one needs it.
  const database = session !== 'none' || extensions[DATABASE_EXTENSION] === true;
  const bodyLimit = extensions[BODY_LIMIT_EXTENSION] as number | undefined;
  const hashes = extensions[HASHER_EXTENSION] === true;
  const rateLimited = extensions[RATE_LIMIT_EXTENSION] !== false;
  delete extensions[SESSION_EXTENSION];
  delete extensions[DATABASE_EXTENSION];
  delete extensions[BODY_LIMIT_EXTENSION];
  delete extensions[HASHER_EXTENSION];
  delete extensions[RATE_LIMIT_EXTENSION];
  operation.security =
    session === 'none' ? [] : session === 'optional' ? [{}, { [SCHEME]: [] }] : [{ [SCHEME]: [] }];
  const problems: Record<string, string> = {
    ...COMMON_PROBLEMS,
    ...(session === 'required' ? SESSION_PROBLEMS : {}),
    ...(database ? DATABASE_PROBLEMS : {}),
    ...(hashes ? HASHER_PROBLEMS : {}),
    ...(STATE_CHANGING.has(method) ? BODY_PROBLEMS : {}),
    ...(bodyLimit !== undefined && { '413': `A body larger than ${bodyLimit} bytes` }),
    ...(operation.parameters?.some((parameter) => 'in' in parameter && parameter.in === 'query')
      ? QUERY_PROBLEMS
      : {}),
  };
  if (!rateLimited) delete problems['429'];
  const responses: ResponsesObject = operation.responses ?? {};
  for (const [status, description] of Object.entries(problems)) {
    responses[status] ??= problem(status, description);
  }
  operation.responses = responses;
}

/** `documentsCreate` for DocumentsController.create: short, stable names for generated clients. */
function operationId(controllerKey: string, methodKey: string): string {
  const resource = controllerKey.replace(/Controller$/, '');
  return (
    resource[0].toLowerCase() + resource.slice(1) + methodKey[0].toUpperCase() + methodKey.slice(1)
  );
}

/** The OpenAPI document of the application, built from its controllers and DTOs. */
export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Documents API')
    .setDescription(
      'Session-authenticated, cached document storage. Sign in with POST /auth/login: the ' +
        `session travels in the \`${SESSION_COOKIE}\` cookie, which the browser (and Swagger UI) ` +
        'sends with every later call. Every error is application/problem+json.',
    )
    .setVersion('1.0.0')
    .setLicense('UNLICENSED', 'https://example.com/license')
    .addServer('/')
    .addCookieAuth(SESSION_COOKIE, { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE }, SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: [ProblemDetailsDto],
    operationIdFactory: operationId,
  });
  for (const path of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) {
      const operation = path[method];
      if (operation) completeOperation(method, operation);
    }
  }
  return document;
}

/** Swagger UI at /docs and the JSON at /docs-json. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), {
    swaggerOptions: { withCredentials: true, persistAuthorization: true },
  });
}
