import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { QueryFailedError } from 'typeorm';
import { errorSummary, serializeError } from './error-serializer.js';
import { loggerOptions } from './logging.module.js';

const HASH = '$2b$04$r6PRQHER4FfBazgQCXsht.NwsDfi3XDxAqA8Y9aJIxLpkExQEV/Um';

/** A failed query as pg and TypeORM make it: values in the parameters, message and detail. */
function queryFailure(): QueryFailedError {
  const driverError = Object.assign(new Error(`invalid input syntax for type uuid: "${HASH}"`), {
    code: '22P02',
    detail: `Failing row contains (7, ${HASH}).`,
    routine: 'string_to_uuid',
    table: 'users',
  });
  return new QueryFailedError(
    'UPDATE users SET password = $2 WHERE user_id = $1',
    [7, HASH],
    driverError,
  );
}

function capture(): { output: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { output: () => chunks.join(''), stream };
}

describe('serializeError', () => {
  it('keeps the SQLSTATE, the query and the names of a failed query, never its values', () => {
    const described = serializeError(queryFailure());
    expect(described).toEqual({
      type: 'QueryFailedError',
      code: '22P02',
      query: 'UPDATE users SET password = $2 WHERE user_id = $1',
      table: 'users',
      routine: 'string_to_uuid',
      stack: expect.stringMatching(/^\s+at /),
    });
    expect(JSON.stringify(described)).not.toContain(HASH);
  });

  it('strips a failed query found as the cause of another error', () => {
    const error = new Error('could not save', { cause: queryFailure() });
    expect(JSON.stringify(serializeError(error))).not.toContain(HASH);
    expect(serializeError(error)).toMatchObject({
      message: 'could not save',
      cause: { code: '22P02' },
    });
  });

  it('leaves other errors as pino writes them', () => {
    expect(serializeError(new TypeError('boom'))).toMatchObject({
      type: 'TypeError',
      message: 'boom',
      stack: expect.stringContaining('TypeError: boom'),
    });
  });

  it('summarises a failed query by its SQLSTATE', () => {
    expect(errorSummary(queryFailure())).toBe('Query failed with SQLSTATE 22P02');
    expect(errorSummary(new Error('boom'))).toMatch(/^Error: boom\n\s+at /);
  });
});

describe('the loggers, with the application’s options', () => {
  it.each([
    ['pino', (stream: Writable) => pino(loggerOptions('info'), stream)],
    ['pino-http', (stream: Writable) => pinoHttp(loggerOptions('info'), stream).logger],
  ])('write no value of a failed query through %s', (_name, make) => {
    const { output, stream } = capture();
    const logger = make(stream);
    logger.error({ err: queryFailure() }, 'request failed');
    logger.error(queryFailure());
    expect(output()).toContain('"code":"22P02"');
    expect(output()).not.toContain(HASH);
  });
});
