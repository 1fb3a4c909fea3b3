import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { Public } from '../src/auth/decorators/auth.decorators.js';
import { startApp, type RunningApp } from './support/app.js';

@Public()
@Controller('test')
class ProbeController {
  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }

  @Get('fail')
  fail(): never {
    throw new Error('relation "secret_table" does not exist: SELECT * FROM secret_table');
  }
}

describe('the HTTP surface of the foundation', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ controllers: [ProbeController] });
  });

  afterAll(async () => {
    await server.close();
  });

  it('serves a landing page that links to /docs', async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('href="/docs"');
  });

  it('answers GET /coffee with 418 I am a teapot as a problem document', async () => {
    const response = await fetch(`${server.url}/coffee`);
    expect(response.status).toBe(418);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ status: 418, code: 'IM_A_TEAPOT' });
  });

  it('answers an unknown route with a 404 problem that carries the request id', async () => {
    const response = await fetch(`${server.url}/no/such/route?token=abc`);
    expect(response.status).toBe(404);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      code: 'NOT_FOUND',
      detail: expect.any(String),
      instance: '/no/such/route',
      requestId: response.headers.get('x-request-id'),
    });
  });

  it('echoes a sane X-Request-Id and replaces one that is not', async () => {
    const sane = await fetch(`${server.url}/health/live`, {
      headers: { 'x-request-id': 'trace-42.abc' },
    });
    expect(sane.headers.get('x-request-id')).toBe('trace-42.abc');

    const insane = await fetch(`${server.url}/health/live`, {
      headers: { 'x-request-id': 'x'.repeat(500) },
    });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports liveness, readiness, and PostgreSQL among the dependencies', async () => {
    const live = await fetch(`${server.url}/health/live`);
    expect(live.status).toBe(200);

    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      details: { lifecycle: { status: 'up' } },
    });

    const dependencies = await fetch(`${server.url}/health/dependencies`);
    expect(dependencies.status).toBe(200);
    expect(await dependencies.json()).toMatchObject({
      status: 'ok',
      details: { postgres: { status: 'up' } },
    });
  });

  it('serves Swagger UI at /docs, allowed to run by its content security policy', async () => {
    const response = await fetch(`${server.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('swagger-ui');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('serves the OpenAPI document at /docs-json, with the session cookie as security scheme', async () => {
    const response = await fetch(`${server.url}/docs-json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/auth/login', '/documents/{id}', '/health/ready']),
    );
    expect(document.components.securitySchemes.session).toEqual({
      type: 'apiKey',
      in: 'cookie',
      name: 'sid',
    });
  });

  it('answers malformed JSON with a 400 problem naming the cause', async () => {
    const response = await fetch(`${server.url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"broken": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
  });

  it('answers an unexpected error with a bare 500: no stack, no SQL, no message', async () => {
    const response = await fetch(`${server.url}/test/fail`);
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      code: 'INTERNAL_ERROR',
      detail: 'An unexpected error occurred',
      instance: '/test/fail',
      requestId: response.headers.get('x-request-id'),
    });
    expect(text).not.toMatch(/SELECT|secret_table|at .*\.ts:\d+/);
  });
});
