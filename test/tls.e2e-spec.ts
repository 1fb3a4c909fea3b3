import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startApp, type RunningApp } from './support/app.js';
import { hasOpenssl, selfSignedCertificate } from './support/certificate.js';
import { ServerProcess } from './support/server-process.js';

if (!hasOpenssl) process.stdout.write('SKIP TLS suite: openssl is not on PATH\n');
const withOpenssl = hasOpenssl ? describe : describe.skip;

withOpenssl('TLS and HTTP/2', () => {
  let dir: string;
  let files: { cert: string; key: string };
  let ca: Buffer;
  let server: RunningApp;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docs-api-tls-'));
    files = selfSignedCertificate(dir, 'server');
    ca = await readFile(files.cert);
    server = await startApp({
      env: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key, HTTP2: 'true' },
    });
    port = Number(new URL(server.url).port);
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS to HTTP/1.1 clients', async () => {
    const { status, version } = await new Promise<{ status?: number; version: string }>(
      (resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port, path: '/health/live', ca, servername: 'localhost' },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, version: res.httpVersion }));
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    expect(status).toBe(200);
    expect(version).toBe('1.1');
  });

  it('negotiates HTTP/2 by ALPN on the same port', async () => {
    const session = http2Connect(`https://localhost:${port}`, { ca });
    try {
      const { status, alpn } = await new Promise<{ status: unknown; alpn: unknown }>(
        (resolve, reject) => {
          const stream = session.request({ ':path': '/coffee' });
          stream.on('response', (headers) =>
            resolve({ status: headers[':status'], alpn: session.alpnProtocol }),
          );
          stream.on('error', reject);
          stream.resume();
          stream.end();
        },
      );
      expect(status).toBe(418);
      expect(alpn).toBe('h2');
    } finally {
      session.close();
    }
  });

  it('does not speak plain HTTP on the TLS port', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/health/live' }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on('error', () => resolve('refused'));
      req.setTimeout(3_000, () => req.destroy());
      req.end();
    });
    // The TLS server drops a connection that opens with plaintext.
    expect(outcome).toBe('refused');
  });

  it('refuses TLS older than 1.2', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = tlsConnect(
        {
          host: '127.0.0.1',
          port,
          ca,
          servername: 'localhost',
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.1',
        },
        () => resolve(`connected ${socket.getProtocol()}`),
      );
      socket.on('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
  });

  it('marks the session cookie Secure', async () => {
    const body = JSON.stringify({ username: `tls_${port}`, password: 'correct horse' });
    const post = (path: string) =>
      new Promise<string[]>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path,
            method: 'POST',
            ca,
            servername: 'localhost',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers['set-cookie'] ?? []));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    await post('/auth/signup');
    const [cookie] = await post('/auth/login');
    expect(cookie).toMatch(/; Secure(;|$)/);
  });

  it('refuses to start with a key that does not match the certificate, saying so', async () => {
    const other = selfSignedCertificate(dir, 'other');
    const process = await ServerProcess.spawn({
      env: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: other.key },
    });
    expect(await process.exited).toEqual({ code: 1, signal: null });
    expect(process.stderr).toEqual([expect.stringContaining('TLS_KEY_FILE')]);
  });

  it('refuses to start with an unreadable certificate, saying so', async () => {
    const process = await ServerProcess.spawn({
      env: { TLS_CERT_FILE: join(dir, 'missing.crt'), TLS_KEY_FILE: files.key },
    });
    expect(await process.exited).toEqual({ code: 1, signal: null });
    expect(process.stderr).toEqual([expect.stringMatching(/TLS_CERT_FILE: cannot read .*ENOENT/)]);
  });
});
