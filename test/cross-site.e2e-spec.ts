import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { hasOpenssl, selfSignedCertificate } from './support/certificate.js';

if (!hasOpenssl) process.stdout.write('SKIP cross-site over TLS: openssl is not on PATH\n');
const withOpenssl = hasOpenssl ? describe : describe.skip;

interface Answer {
  status: number;
  body: { code?: string };
}

/** One request on an HTTP/2 session; a body is sent as given, without content-length. */
function h2(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (head) => (status = Number(head[':status'])));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status, body: text ? (JSON.parse(text) as Answer['body']) : {} });
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

withOpenssl('the cross-site check over TLS, on HTTP/2 and HTTP/1.1', () => {
  let dir: string;
  let ca: Buffer;
  let server: RunningApp;
  let port: number;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docs-api-xsite-'));
    const { cert, key } = selfSignedCertificate(dir, 'server');
    ca = await readFile(cert);
    server = await startApp({ env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key, HTTP2: 'true' } });
    port = Number(new URL(server.url).port);
    session = connect(`https://localhost:${port}`, { ca });
  });

  afterAll(async () => {
    session?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const signup = (origin: string) =>
    h2(
      session,
      {
        ':method': 'POST',
        ':path': '/auth/signup',
        origin,
        'content-type': 'application/json',
      },
      JSON.stringify({ username: uniqueName('h2'), password: 'correct horse battery' }),
    );

  it('accepts a same-origin browser write over HTTP/2', async () => {
    expect(await signup(`https://localhost:${port}`)).toMatchObject({ status: 201 });
  });

  it.each([
    ['another host', () => 'https://evil.example'],
    ['another scheme', () => `http://localhost:${port}`],
    ['another port', () => `https://localhost:${port + 1}`],
  ])('refuses %s over HTTP/2', async (_case, origin) => {
    expect(await signup(origin())).toMatchObject({
      status: 403,
      body: { code: 'CROSS_SITE_REQUEST' },
    });
  });

  it('refuses another scheme over HTTP/1.1', async () => {
    const body = JSON.stringify({ username: uniqueName('h1'), password: 'correct horse battery' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/auth/signup',
          method: 'POST',
          ca,
          servername: 'localhost',
          headers: {
            host: `localhost:${port}`,
            origin: `http://localhost:${port}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(403);
  });

  it('refuses a text/plain body sent without content-length over HTTP/2', async () => {
    const answer = await h2(
      session,
      { ':method': 'POST', ':path': '/auth/signup', 'content-type': 'text/plain' },
      JSON.stringify({ username: uniqueName('plain'), password: 'correct horse battery' }),
    );
    expect(answer).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });
});
