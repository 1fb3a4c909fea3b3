import { applyDecorators } from '@nestjs/common';
import { ApiExtension, ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDetailsDto } from './problem-details.dto.js';

/** Documents a problem response a route gives on its own (404, 409, 412, ...). */
export const ApiProblem = (status: number, description: string) =>
  applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ApiResponse({
      status,
      description,
      content: {
        'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDetailsDto) } },
      },
    }),
  );

/** Marks an operation that needs PostgreSQL; the OpenAPI document adds its 503. */
export const DATABASE_EXTENSION = 'x-database';

/**
 * The route needs PostgreSQL even without a session (routes that take a session need it for
 * the session lookup anyway): it answers 503 `DATABASE_UNAVAILABLE` while it is unreachable.
 */
export const ApiUsesDatabase = () => ApiExtension(DATABASE_EXTENSION, true);

/** Marks an operation that checks or hashes a password; the OpenAPI document adds its 503. */
export const HASHER_EXTENSION = 'x-password-hasher';

/**
 * The route runs bcrypt: it answers 503 `HASHER_BUSY` (with Retry-After) at once when more
 * password checks are waiting than the hasher takes.
 */
export const ApiHashesPasswords = () => ApiExtension(HASHER_EXTENSION, true);
