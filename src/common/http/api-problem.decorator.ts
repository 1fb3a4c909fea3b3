import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
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
