import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { login, signup } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call } from './support/http.js';
import { RawConnection } from './support/raw-socket.js';

/** GET with a chosen Accept-Encoding, the body kept as bytes. */
function fetchBytes(
  url: string,
  encoding?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: encoding ? { 'accept-encoding': encoding } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the HTTP edge', () => {
  let server: RunningApp;
  let bigDocument: string;
  const content = JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => `entry ${i}`) });

  beforeAll(async () => {
    server = await startApp({
      env: {
        CUSTOM_HEADERS: '{"X-Served-By":"edge-test","X-Team":"docs"}',
        REQUEST_TIMEOUT_MS: '1500',
      },
    });
    const session = await login(server.url, await signup(server.url));
    const created = await call(server.url, 'POST', '/documents', {
      session,
      body: { title: 'big', content, contentType: 'application/json', visibility: 'public' },
    });
    bigDocument = `${server.url}/documents/${created.body.id}/raw`;
  });

  afterAll(async () => {
    await server.close();
  });

  describe('compression', () => {
    it('compresses with gzip and with br, and both decompress to the original', async () => {
      const gzip = await fetchBytes(bigDocument, 'gzip');
      expect(gzip.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gzip.body).toString()).toBe(content);
      expect(String(gzip.headers.vary)).toMatch(/accept-encoding/i);

      const br = await fetchBytes(bigDocument, 'br');
      expect(br.headers['content-encoding']).toBe('br');
      expect(brotliDecompressSync(br.body).toString()).toBe(content);
      expect(br.body.length).toBeLessThan(content.length / 4);
    });

    it('follows q-values and sends identity to a client that does not ask', async () => {
      const preferred = await fetchBytes(bigDocument, 'gzip;q=1.0, br;q=0.1');
      expect(preferred.headers['content-encoding']).toBe('gzip');

      const plain = await fetchBytes(bigDocument);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body.toString()).toBe(content);
    });

    it('leaves a small body and a 304 uncompressed', async () => {
      const small = await fetchBytes(`${server.url}/health/live`, 'gzip, br');
      expect(small.headers['content-encoding']).toBeUndefined();
      expect(JSON.parse(small.body.toString())).toMatchObject({ status: 'ok' });

      const etag = (await fetchBytes(bigDocument)).headers.etag as string;
      const notModified = await call(bigDocument, 'GET', '', {
        headers: { 'accept-encoding': 'gzip', 'if-none-match': etag },
      });
      expect(notModified.status).toBe(304);
      expect(notModified.headers['content-encoding']).toBeUndefined();
    });
  });

  describe('connections', () => {
    it('serves ten requests over one keep-alive connection', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const reused: boolean[] = [];
      const ports = new Set<number>();
      for (let i = 0; i < 10; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = request(`${server.url}/health/live`, { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('socket', (socket) => ports.add(socket.localPort ?? 0));
          req.on('error', reject);
          req.end();
          reused.push(req.reusedSocket);
        });
      }
      agent.destroy();
      expect(reused.slice(1).every(Boolean)).toBe(true);
      expect(ports.size).toBe(1);
    });

    it('closes the connection when the client says Connection: close', async () => {
      const connection = await RawConnection.open(server.url);
      connection.write('GET /health/live HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
      await connection.closed;
      expect(connection.text).toMatch(/^HTTP\/1\.1 200/);
      expect(connection.text).toMatch(/\r\nconnection: close\r\n/i);
    });

    it('answers an HTTP/1.0 client and closes', async () => {
      const connection = await RawConnection.open(server.url);
      connection.write('GET /health/live HTTP/1.0\r\n\r\n');
      await connection.closed;
      expect(connection.text).toMatch(/^HTTP\/1\.[01] 200/);
    });

    it('answers 408 and disconnects a client that stops sending its headers', async () => {
      const connection = await RawConnection.open(server.url);
      connection.write('GET /health/live HTTP/1.1\r\nHost: test\r\nX-Slow: ');
      const started = Date.now();
      await connection.closed;
      expect(connection.text).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('answers bytes that are not HTTP, and headers over the limit, with problem details', async () => {
      const garbage = await RawConnection.open(server.url);
      garbage.write('GET /documents/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n');
      await garbage.closed;
      expect(garbage.text).toMatch(/^HTTP\/1\.1 400 /);
      expect(garbage.text).toMatch(/content-type: application\/problem\+json/i);
      expect(JSON.parse(garbage.text.split('\r\n\r\n')[1])).toMatchObject({ status: 400 });
      const huge = await RawConnection.open(server.url);
      huge.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      await huge.closed;
      expect(huge.text).toMatch(/^HTTP\/1\.1 431 /);
      expect(JSON.parse(huge.text.split('\r\n\r\n')[1])).toMatchObject({ status: 431 });
    });

    it('answers 408 to a client that stops sending its body', async () => {
      const connection = await RawConnection.open(server.url);
      connection.write(
        'POST /auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
      );
      await connection.closed;
      expect(connection.text).toMatch(/^HTTP\/1\.1 408/);
    });

    it('keeps serving normal clients while one dribbles', async () => {
      const slow = await RawConnection.open(server.url);
      slow.write('GET /health/live HTTP/1.1\r\nHost: test\r\n');
      await sleep(100);
      expect((await call(server.url, 'GET', '/health/live')).status).toBe(200);
      slow.destroy();
    });
  });

  describe('headers', () => {
    it.each([['/coffee'], ['/health/live'], ['/no-such-route']])(
      'adds CUSTOM_HEADERS, X-Request-Id, X-Response-Time and security headers to %s',
      async (path) => {
        const reply = await call(server.url, 'GET', path);
        expect(reply.headers['x-served-by']).toBe('edge-test');
        expect(reply.headers['x-team']).toBe('docs');
        expect(reply.headers['x-request-id']).toBeDefined();
        expect(reply.headers['x-response-time']).toMatch(/^\d+(\.\d+)?ms$/);
        expect(reply.headers['x-content-type-options']).toBe('nosniff');
        expect(reply.headers['content-security-policy']).toContain("default-src 'none'");
        expect(reply.headers['x-powered-by']).toBeUndefined();
        expect(reply.headers.server).toBeUndefined();
      },
    );
  });

  describe('status codes', () => {
    it.each([
      ['DELETE', '/coffee', 'GET, HEAD'],
      ['POST', '/health/live', 'GET, HEAD'],
      ['GET', '/auth/login', 'POST'],
      ['PUT', '/documents/0b6f1f8e-3c1e-4a57-9d7a-5f0d1a2b3c4d', 'DELETE, GET, HEAD, PATCH'],
      ['DELETE', '/users/me/password', 'PUT'],
    ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
      const reply = await call(server.url, method, path);
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe(allow);
      expect(reply.body).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    });

    it('answers HEAD wherever GET is served, without a body', async () => {
      const head = await call(bigDocument, 'HEAD', '');
      expect(head.status).toBe(200);
      expect(head.text).toBe('');
      expect(head.headers.etag).toBeDefined();
    });

    it('answers 418 on GET /coffee and 404 on an unknown path', async () => {
      expect((await call(server.url, 'GET', '/coffee')).status).toBe(418);
      expect((await call(server.url, 'GET', '/nowhere')).status).toBe(404);
    });
  });
});
