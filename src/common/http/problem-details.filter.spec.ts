import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  BadRequestException,
  HttpException,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  type ArgumentsHost,
} from '@nestjs/common';
import { ProblemDetailsFilter, statusCode } from './problem-details.filter.js';
import { RouteMethods } from './route-methods.js';

interface Sent {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
}

function hostFor(url = '/things/1?secret=x', is404 = false): { host: ArgumentsHost; sent: Sent } {
  const sent: Sent = { headers: {} };
  const reply = {
    sent: false,
    status(code: number) {
      sent.status = code;
      return reply;
    },
    header(name: string, value: string) {
      sent.headers[name] = value;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const request = { url, id: 'req-1', method: 'POST', is404 };
  const host = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ArgumentsHost;
  return { host, sent };
}

describe('ProblemDetailsFilter', () => {
  const routes = new RouteMethods();
  routes.add(['GET', 'HEAD'], '/things/:id');
  const filter = new ProblemDetailsFilter(routes);
  let logged: jest.SpiedFunction<Logger['error']>;

  beforeEach(() => {
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  it('renders an HttpException as a problem document with its status and request id', () => {
    const { host, sent } = hostFor();
    filter.catch(new NotFoundException('No such thing'), host);
    expect(sent.status).toBe(404);
    expect(sent.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(sent.body).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      code: 'NOT_FOUND',
      detail: 'No such thing',
      instance: '/things/1',
      requestId: 'req-1',
    });
  });

  it('keeps a stable code that the exception carries', () => {
    const { host, sent } = hostFor();
    filter.catch(new HttpException({ code: 'USERNAME_TAKEN', message: 'Taken' }, 409), host);
    expect(sent.body).toMatchObject({ status: 409, code: 'USERNAME_TAKEN', detail: 'Taken' });
  });

  it('lists validation messages under errors', () => {
    const { host, sent } = hostFor();
    filter.catch(new BadRequestException(['username must be longer', 'password is missing']), host);
    expect(sent.body).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      errors: ['username must be longer', 'password is missing'],
    });
  });

  it('names a Fastify body error by what went wrong', () => {
    const { host, sent } = hostFor();
    const cause = Object.assign(new Error('Request body is too large'), {
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    filter.catch(new HttpException('Request body is too large', 413, { cause }), host);
    expect(sent.body).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('keeps the state of each check of a failed health check', () => {
    const { host, sent } = hostFor('/health/ready');
    const details = { lifecycle: { status: 'down' } };
    filter.catch(new ServiceUnavailableException({ status: 'error', details }), host);
    expect(sent.body).toMatchObject({ status: 503, code: 'NOT_READY', checks: details });
  });

  it('takes the code and detail a failed health check names', () => {
    const { host, sent } = hostFor('/health/dependencies');
    const details = { postgres: { status: 'up' }, redis: { status: 'down' } };
    filter.catch(
      new ServiceUnavailableException({
        status: 'error',
        details,
        code: 'DEPENDENCY_DOWN',
        message: 'Down: redis',
      }),
      host,
    );
    expect(sent.body).toMatchObject({
      status: 503,
      code: 'DEPENDENCY_DOWN',
      detail: 'Down: redis',
      checks: details,
    });
  });

  it('answers anything unexpected with a bare 500 and logs the stack instead', () => {
    const { host, sent } = hostFor();
    const error = new Error('duplicate key value violates unique constraint "users_pkey"');
    filter.catch(error, host);
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual(
      expect.objectContaining({ code: 'INTERNAL_ERROR', detail: 'An unexpected error occurred' }),
    );
    expect(JSON.stringify(sent.body)).not.toContain('users_pkey');
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ requestId: 'req-1' }),
      expect.stringContaining('users_pkey'),
    );
  });

  it('answers 503 with Retry-After while PostgreSQL cannot be reached, without its details', () => {
    const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    logged.mockClear();
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), {
      code: 'ECONNREFUSED',
    });
    const shutDown = Object.assign(
      new Error('terminating connection due to administrator command'),
      {
        driverError: Object.assign(new Error('terminating connection'), { code: '57P01' }),
      },
    );
    for (const error of [refused, shutDown, new Error('Connection terminated unexpectedly')]) {
      const { host, sent } = hostFor();
      filter.catch(error, host);
      expect(sent.status).toBe(503);
      expect(sent.headers['retry-after']).toBe('5');
      expect(sent.body).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
      expect(JSON.stringify(sent.body)).not.toMatch(/10\.0\.0\.7|administrator/);
    }
    expect(warned).toHaveBeenCalledTimes(3);
    expect(logged).not.toHaveBeenCalled();
  });

  it('keeps a query that PostgreSQL refused a 500', () => {
    const { host, sent } = hostFor();
    const error = Object.assign(new Error('syntax error at or near "SELCT"'), { code: '42601' });
    filter.catch(error, host);
    expect(sent.status).toBe(500);
    expect(sent.headers['retry-after']).toBeUndefined();
  });

  it('turns a route miss on a path served by other methods into 405 with Allow', () => {
    const { host, sent } = hostFor('/things/7', true);
    filter.catch(new NotFoundException('Cannot POST /things/7'), host);
    expect(sent.status).toBe(405);
    expect(sent.headers.allow).toBe('GET, HEAD');
    expect(sent.body).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
  });

  it('keeps 404 for a path no route serves, and for a handler’s own 404', () => {
    const miss = hostFor('/nothing', true);
    filter.catch(new NotFoundException('Cannot POST /nothing'), miss.host);
    expect(miss.sent.status).toBe(404);

    const handled = hostFor('/things/7', false);
    filter.catch(new NotFoundException('No such thing'), handled.host);
    expect(handled.sent.status).toBe(404);
    expect(handled.sent.headers.allow).toBeUndefined();
  });

  it('derives codes from status texts', () => {
    expect(statusCode(418)).toBe('IM_A_TEAPOT');
    expect(statusCode(429)).toBe('TOO_MANY_REQUESTS');
  });
});
