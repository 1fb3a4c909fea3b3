import fc from 'fast-check';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/**
 * Hostile requests for the hostile-input case: described by plain values (so fast-check can
 * generate, print and replay them) and rendered to bytes only when sent, so that thousands of
 * near-limit bodies are never held in memory at once. Strings are latin1: one character, one
 * byte on the wire, which is how invalid UTF-8 reaches the server.
 */

/** What the run knows about the server when it generates requests. */
export interface Targets {
  /** A valid session of the user who owns `ownDocuments`. */
  session: string;
  /** Sessions of another user that logout routes may end. */
  victimSessions: string[];
  ownDocuments: string[];
  /** Documents of someone else (one public, one private). */
  otherDocuments: string[];
  bodyLimitBytes: number;
}

export type Body =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'deep'; depth: number; open: string; close: string; inner: string }
  | { kind: 'huge'; field: string; bytes: number; char: string; extra: string }
  | { kind: 'bytes'; bytes: number[] };

export interface HostileRequest {
  /** `http` goes through Node's client; `raw` is written to a socket as is (bad framing). */
  via: 'http' | 'raw';
  /** The family of hostility, for the counts. */
  family: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: Body;
  /** Send the body without Content-Length (chunked), through Node's client. */
  chunked?: boolean;
}

interface Route {
  method: string;
  path: (id: string) => string;
  /** A body the route takes, as a starting point for mutations. */
  sample?: Record<string, unknown>;
  /** Ends sessions: use a victim's, never the main one. */
  endsSessions?: boolean;
  query?: boolean;
}

const ROUTES: Route[] = [
  {
    method: 'POST',
    path: () => '/auth/signup',
    sample: { username: 'u_x', password: 'p'.repeat(9) },
  },
  {
    method: 'POST',
    path: () => '/auth/login',
    sample: { username: 'u_x', password: 'p'.repeat(9) },
  },
  { method: 'POST', path: () => '/auth/logout', endsSessions: true },
  { method: 'GET', path: () => '/auth/sessions', query: true },
  { method: 'DELETE', path: () => '/auth/sessions', endsSessions: true },
  { method: 'GET', path: () => '/users/me' },
  {
    method: 'PUT',
    path: () => '/users/me/password',
    sample: { currentPassword: 'wrong-password', newPassword: 'n'.repeat(12) },
  },
  { method: 'DELETE', path: () => '/users/me', sample: { password: 'wrong-password' } },
  {
    method: 'POST',
    path: () => '/documents',
    sample: { title: 't', content: 'c', contentType: 'text/plain', visibility: 'public' },
  },
  { method: 'GET', path: () => '/documents', query: true },
  { method: 'GET', path: (id) => `/documents/${id}` },
  { method: 'GET', path: (id) => `/documents/${id}/raw` },
  { method: 'PATCH', path: (id) => `/documents/${id}`, sample: { title: 'changed' } },
  { method: 'DELETE', path: (id) => `/documents/${id}` },
  { method: 'GET', path: () => '/' },
  { method: 'GET', path: () => '/coffee' },
  { method: 'GET', path: () => '/health/live' },
];

/** The poisoned values: whatever of them reached an object's prototype would show. */
export const POLLUTION_MARKER = 'polluted';
const POISON = [
  `{"${POLLUTION_MARKER}":"yes","isAdmin":true}`,
  `{"prototype":{"${POLLUTION_MARKER}":"yes","isAdmin":true}}`,
  `{"toString":"${POLLUTION_MARKER}","hasOwnProperty":"${POLLUTION_MARKER}"}`,
];
const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '\\u005f\\u005fproto\\u005f\\u005f',
  '__pro\\u0074o__',
  'a',
];

const JUNK_IDS = [
  '..%2f..%2fetc%2fpasswd',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '../../etc/passwd',
  '%2e%2e%2f%2e%2e%2f',
  '%00',
  'x%00.json',
  '%c0%ae%c0%ae%c0%af',
  '%c0%af',
  '%e0%80%af',
  '%f0%80%80%af',
  '%ed%a0%80',
  '%ff%fe',
  '%',
  '%zz',
  '%u002e',
  '__proto__',
  'constructor',
  'prototype',
  'null',
  '-1',
  "1'%20OR%20'1'%3D'1",
  '%27;DROP%20TABLE%20users;--',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'a'.repeat(5_000),
  '%F0%9F%98%80',
  '\u00f0\u009f\u0098\u0080',
  '\u00c0\u00ae',
  '\u00ff\u00fe',
  '{id}',
  '*',
  ';',
  '~',
];

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=\u00ff',
  'APPLICATION/JSON',
  'application/json, text/plain',
  'application/jsonx',
  'application/vnd.api+json',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  '',
  ';;;',
  'application/json;' + 'a=b;'.repeat(500),
];

/** Printable latin1 with the bytes 0x80-0xff: invalid UTF-8 once on the wire. */
const latin1 = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 40,
});

/** Values Node's client lets through in a header (no control characters). */
const headerValue = fc.oneof(
  { weight: 6, arbitrary: latin1 },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 12_000 }).map((n) => 'v'.repeat(n)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\t',
      '"',
      'null',
      '-1',
      '1e999',
      '*',
      'W/"x"',
      '"' + 'x'.repeat(300),
    ),
  },
);

/** `arbitrary`'s value once in `n` draws, else null. */
function rarely<T>(arbitrary: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

function cookieArbitrary(targets: Targets): fc.Arbitrary<string> {
  const valid = `sid=${targets.session}`;
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(valid) },
    fc.constant(`sid=${'A'.repeat(43)}`),
    { weight: 2, arbitrary: latin1.map((junk) => `sid=${junk}`) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'sid=',
        'sid',
        '=',
        ';;;;',
        'sid=%E0%A4%A',
        'sid=%00',
        'sid="unterminated',
        `sid=${targets.session}; sid=garbage`,
        `sid=garbage; ${valid}`,
        `sid=${targets.session}%00`,
        `${valid}; __proto__=x; constructor=y`,
        '__proto__=polluted; sid=x',
      ),
    },
    fc
      .integer({ min: 2, max: 600 })
      .map((n) => Array.from({ length: n }, (_, i) => `sid=${i}`).join('; ')),
    fc.integer({ min: 4_000, max: 14_000 }).map((n) => `sid=${'x'.repeat(n)}`),
  );
}

function headersArbitrary(targets: Targets): fc.Arbitrary<[string, string][]> {
  const named = fc.tuple(
    fc.constantFrom(
      'accept',
      'accept-encoding',
      'if-none-match',
      'if-match',
      'x-request-id',
      'origin',
      'x-forwarded-for',
      'host',
      'range',
      'authorization',
      'user-agent',
      'x-custom',
      'expect',
    ),
    headerValue,
  );
  const flood = fc
    .integer({ min: 100, max: 700 })
    .map((n) => Array.from({ length: n }, (_, i): [string, string] => [`x-flood-${i}`, `${i}`]));
  return fc
    .tuple(
      fc.array(named, { maxLength: 6 }),
      rarely(cookieArbitrary(targets), 2),
      rarely(fc.array(cookieArbitrary(targets), { minLength: 2, maxLength: 5 }), 12),
      rarely(flood, 12),
    )
    .map(([some, cookie, cookies, many]) => [
      ...some.map(([name, value]): [string, string] => [
        name,
        // Only sane values for headers Node's client refuses to duplicate.
        name === 'host' ? 'localhost' : name === 'expect' ? '100-continue' : value,
      ]),
      ...(cookie ? [['cookie', cookie] as [string, string]] : []),
      ...(cookies ?? []).map((c): [string, string] => ['cookie', c]),
      ...(many ?? []),
    ]);
}

/** A JSON text of objects and arrays nested `depth` levels. */
function deepBody(): fc.Arbitrary<Body> {
  return fc.record({
    kind: fc.constant('deep' as const),
    depth: fc.integer({ min: 1_000, max: 60_000 }),
    open: fc.constantFrom('[', '{"a":', '{"__proto__":', '{"constructor":', '[{"x":', '{"title":['),
    close: fc.constant(''),
    inner: fc.constantFrom('1', '"x"', 'null', '{}', '[]', POISON[0]),
  });
}

/** Strings around BODY_LIMIT_BYTES, in the field a route reads or in another. */
function hugeBody(targets: Targets): fc.Arbitrary<Body> {
  const limit = targets.bodyLimitBytes;
  return fc.record({
    kind: fc.constant('huge' as const),
    field: fc.constantFrom('content', 'title', 'username', 'password', 'currentPassword', 'junk'),
    bytes: fc.oneof(
      fc.integer({ min: limit - 2_000, max: limit - 40 }),
      fc.integer({ min: limit - 40, max: limit + 40 }),
      fc.integer({ min: limit + 1, max: limit * 2 }),
      fc.integer({ min: 512 * 1024 - 10, max: 512 * 1024 + 10 }),
    ),
    char: fc.constantFrom('a', '\u00e9', '\u00ff', '\\u0000', '\\ud800', '"'),
    extra: fc.constantFrom('', ',"contentType":"text/html"', ',"__proto__":{"polluted":"yes"}'),
  });
}

/** A JSON text with a poisoned key some levels down. */
function protoBody(route: Route): fc.Arbitrary<Body> {
  return fc
    .tuple(
      fc.array(fc.constantFrom(...PROTO_KEYS), { minLength: 1, maxLength: 5 }),
      fc.constantFrom(...POISON),
      fc.boolean(),
    )
    .map(([keys, poison, first]) => {
      let nested = poison;
      for (const key of keys.reverse()) nested = `{"${key}":${nested}}`;
      const own = JSON.stringify(route.sample ?? { title: 't' }).slice(1, -1);
      const inner = nested.slice(1, -1);
      return { kind: 'text', text: first ? `{${inner},${own}}` : `{${own},${inner}}` };
    });
}

function mutatedSample(route: Route): fc.Arbitrary<Body> {
  const sample = route.sample ?? { title: 't', content: 'c' };
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom(
      null,
      true,
      0,
      -1,
      1e308,
      '',
      ' ',
      'a'.repeat(300),
      'a\u0000b',
      '\ud800',
      [],
      {},
    ),
  );
  return fc
    .tuple(
      fc.dictionary(
        fc.constantFrom(...Object.keys(sample), 'extra', 'toString', 'valueOf', 'id'),
        value,
      ),
      fc.boolean(),
    )
    .map(([changes, keep]) => ({
      kind: 'json',
      value: keep ? { ...sample, ...changes } : changes,
    }));
}

function bodyArbitrary(route: Route, targets: Targets): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 5, arbitrary: mutatedSample(route) },
    { weight: 2, arbitrary: fc.jsonValue().map((value): Body => ({ kind: 'json', value })) },
    { weight: 3, arbitrary: protoBody(route) },
    { weight: 1, arbitrary: deepBody() },
    { weight: 1, arbitrary: hugeBody(targets) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constant(JSON.stringify(route.sample ?? { title: 't' })), latin1, fc.nat())
        .map(([json, junk, at]): Body => {
          // Raw bytes (invalid UTF-8) inside a string value, or anywhere.
          const cut = json.indexOf('"', 2 + (at % 5)) + 1 || 1;
          return { kind: 'text', text: json.slice(0, cut) + junk + json.slice(cut) };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 })
        .map((bytes): Body => ({ kind: 'bytes', bytes })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '',
          ' ',
          'null',
          '[]',
          '"x"',
          '{',
          '}',
          '{"a":1,}',
          'NaN',
          '\u00ef\u00bb\u00bf{}',
        )
        .map((text): Body => ({ kind: 'text', text })),
    },
  );
}

function pathArbitrary(route: Route, targets: Targets): fc.Arbitrary<string> {
  const id = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...targets.ownDocuments, ...targets.otherDocuments) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 4, arbitrary: fc.constantFrom(...JUNK_IDS) },
    { weight: 2, arbitrary: latin1.filter((s) => s.length > 0 && !/[ ?#]/.test(s)) },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: 'binary', minLength: 1, maxLength: 20 })
        .map((s) => encodeURIComponent(s)),
    },
  );
  const query = fc.oneof(
    fc.constant(''),
    fc
      .dictionary(
        fc.constantFrom(
          'limit',
          'cursor',
          'q',
          '__proto__',
          'constructor',
          '__proto__[x]',
          'limit[]',
        ),
        fc.oneof(
          fc.constantFrom('0', '101', '-1', '1e3', '1.5', 'NaN', '%ff', '%00', "'", '!(a|', 'a:*'),
          fc.base64String({ maxLength: 600 }),
          latin1.filter((s) => !/[ #]/.test(s)),
        ),
      )
      .map((params) =>
        Object.entries(params)
          .map(([k, v]) => `${k}=${v}`)
          .join('&'),
      ),
  );
  return fc.tuple(id, query, fc.boolean()).map(([value, q, withQuery]) => {
    const path = route.path(value);
    return route.query || withQuery ? (q ? `${path}?${q}` : path) : path;
  });
}

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'BREW',
];

function httpRequest(targets: Targets): fc.Arbitrary<HostileRequest> {
  return fc
    .constantFrom(...ROUTES)
    .chain((route) =>
      fc.record({
        route: fc.constant(route),
        method: fc.oneof(
          { weight: 6, arbitrary: fc.constant(route.method) },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        path: pathArbitrary(route, targets),
        headers: headersArbitrary(targets),
        contentType: fc.constantFrom(...CONTENT_TYPES),
        body: fc.option(bodyArbitrary(route, targets), { freq: route.sample ? 8 : 3 }),
        chunked: fc.boolean(),
        victim: fc.nat(),
        session: fc.boolean(),
      }),
    )
    .map(({ route, method, path, headers, contentType, body, chunked, victim, session }) => {
      let all = headers;
      const endsSessions =
        route.endsSessions || (method === 'DELETE' && path.startsWith('/auth/sessions'));
      if (session && !all.some(([name]) => name === 'cookie')) {
        const sid = endsSessions
          ? targets.victimSessions[victim % targets.victimSessions.length]
          : targets.session;
        all = [...all, ['cookie', `sid=${sid}`]];
      }
      if (endsSessions) {
        // Only victims' sessions may be ended: the main one must outlive the run.
        all = all.map(([name, value]): [string, string] =>
          name === 'cookie' ? [name, value.replaceAll(targets.session, 'x')] : [name, value],
        );
      }
      const sendsBody = body !== null && method !== 'GET' && method !== 'HEAD';
      if (sendsBody && contentType) all = [...all, ['content-type', contentType]];
      return {
        via: 'http' as const,
        family: sendsBody ? `${body.kind} body` : all.length > 50 ? 'header flood' : 'path/headers',
        method,
        path,
        headers: all,
        body: sendsBody ? body : undefined,
        // Node's client frames a body without Content-Length as chunked, except for these.
        chunked: sendsBody && chunked && !['DELETE', 'OPTIONS', 'TRACE'].includes(method),
      };
    });
}

/** Requests whose framing Node's client would refuse to write. */
const RAW_HEADS = [
  'G\u0000ET / HTTP/1.1',
  'GET /documents/\u0000 HTTP/1.1',
  'GET /documents/a b HTTP/1.1',
  'GET /documents/\u00ff\u00fe HTTP/1.1',
  'GET /documents/\u00c0\u00af\u00c0\u00af HTTP/1.1',
  'GET /documents/..%2f..%2fetc%2fpasswd HTTP/1.0',
  'GET ../../etc/passwd HTTP/1.1',
  'GET http://evil.example/documents HTTP/1.1',
  'GET * HTTP/1.1',
  'get /health/live HTTP/1.1',
  'GET /health/live HTTP/9.9',
  'GET /health/live HTTP/1.1 extra',
  'GET /health/live',
  'GET  /health/live  HTTP/1.1',
  'CONNECT 127.0.0.1:1 HTTP/1.1',
  'POST /auth/login HTTP/1.1',
  'PATCH /documents/00000000-0000-0000-0000-000000000000 HTTP/1.1',
  '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003',
  'PRI * HTTP/2.0',
];
const RAW_HEADERS = [
  'Content-Length: 5\r\nTransfer-Encoding: chunked',
  'Content-Length: 5\r\nContent-Length: 6',
  'Content-Length: -1',
  'Content-Length: 1e3',
  'Content-Length: 99999999999999999999',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity',
  'Transfer-Encoding: chunked',
  'X-Bad Header: 1',
  'X-Bad\u0000: 1',
  ': empty-name',
  'X-Ctl: a\u0001b\u007fc',
  'X-Obs-Fold: a\r\n folded',
  'Host: a\r\nHost: b',
  'Cookie: sid=\u00ff\u00fe\u00c0\u00af',
  'X-Request-Id: \u00ff\u00fe',
  'X-Huge: ' + 'h'.repeat(20_000),
  '',
];
const RAW_BODIES = [
  '',
  '{}',
  '{"__proto__":{"polluted":"yes"}}',
  'zz\r\n{}\r\n0\r\n\r\n',
  '0\r\n\r\n',
];

const rawRequest: fc.Arbitrary<HostileRequest> = fc
  .record({
    head: fc.constantFrom(...RAW_HEADS),
    header: fc.constantFrom(...RAW_HEADERS),
    body: fc.constantFrom(...RAW_BODIES),
    lineEnd: fc.constantFrom('\r\n', '\r\n', '\n'),
  })
  .map(({ head, header, body, lineEnd }) => {
    const [method, ...rest] = head.split(' ');
    return {
      via: 'raw' as const,
      family: 'raw framing',
      method,
      path: rest.join(' '),
      headers: [
        ['Host', 'localhost'],
        ['Connection', 'close'],
        ['Content-Type', 'application/json'],
        ...(header ? [[header, ''] as [string, string]] : []),
      ],
      body: { kind: 'text', text: lineEnd + body },
    };
  });

/** Every kind of hostile request, mostly well framed so that they reach the application. */
export function hostileRequests(targets: Targets): fc.Arbitrary<HostileRequest> {
  return fc.oneof(
    { weight: 12, arbitrary: httpRequest(targets) },
    { weight: 1, arbitrary: rawRequest },
  );
}

/** The bytes of a body. */
export function render(body: Body | undefined): Buffer {
  if (!body) return Buffer.alloc(0);
  switch (body.kind) {
    case 'json':
      return Buffer.from(JSON.stringify(body.value) ?? 'null', 'utf8');
    case 'text':
      return Buffer.from(body.text, 'latin1');
    case 'bytes':
      return Buffer.from(body.bytes);
    case 'deep': {
      const closeOf = (open: string): string =>
        [...open]
          .reverse()
          .filter((c) => c === '[' || c === '{')
          .map((c) => (c === '[' ? ']' : '}'))
          .join('');
      return Buffer.from(
        body.open.repeat(body.depth) + body.inner + closeOf(body.open).repeat(body.depth),
        'latin1',
      );
    }
    case 'huge': {
      const unit = Buffer.byteLength(body.char, 'utf8');
      const value = body.char.repeat(Math.max(0, Math.floor(body.bytes / unit)));
      return Buffer.from(`{"title":"t","${body.field}":"${value}"${body.extra}}`, 'utf8');
    }
  }
}

export interface Outcome {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** A transport failure: reset, timeout, a response that could not be parsed. */
  failure?: string;
}

function decode(encoding: string | undefined, bytes: Buffer): Buffer {
  if (encoding === 'gzip') return gunzipSync(bytes);
  if (encoding === 'br') return brotliDecompressSync(bytes);
  if (encoding === 'deflate') return inflateSync(bytes);
  return bytes;
}

const TIMEOUT_MS = 20_000;

/** Sends a request through Node's client on a keep-alive agent. */
export function sendHttp(port: number, agent: Agent, hostile: HostileRequest): Promise<Outcome> {
  const body = render(hostile.body);
  const headers = hostile.headers.flat();
  // Given headers as a list, Node's client adds no Host; without one, an HTTP/1.1 request gets
  // Node's own bare 400 before the application sees it.
  if (!hostile.headers.some(([name]) => name === 'host')) headers.push('host', `127.0.0.1:${port}`);
  if (hostile.body && !hostile.chunked) headers.push('content-length', String(body.length));
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (!settled) resolve(outcome);
      settled = true;
    };
    let req;
    try {
      req = request({
        host: '127.0.0.1',
        port,
        agent,
        method: hostile.method,
        path: hostile.path,
        headers,
      });
    } catch (error) {
      // Node's client refused the request itself: a generator bug, not the server's.
      settle({ status: 0, headers: {}, body: '', failure: `client refused: ${String(error)}` });
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) =>
        settle({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: '',
          failure: String(error),
        }),
      );
      res.on('end', () => {
        try {
          const text = decode(res.headers['content-encoding'], Buffer.concat(chunks));
          settle({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text.toString('utf8'),
          });
        } catch (error) {
          settle({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: '',
            failure: String(error),
          });
        }
      });
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle({ status: 0, headers: {}, body: '', failure: `${error.code ?? ''} ${error.message}` }),
    );
    req.end(body.length > 0 ? body : undefined);
  });
}

/** Writes a request to a fresh socket as is and reads the answer until the server closes. */
export function sendRaw(port: number, hostile: HostileRequest): Promise<Outcome> {
  const head =
    `${hostile.method}${hostile.path ? ' ' + hostile.path : ''}\r\n` +
    hostile.headers.map(([name, value]) => (value ? `${name}: ${value}` : name)).join('\r\n') +
    '\r\n';
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), render(hostile.body)]);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let failure: string | undefined;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (failure = error.code ?? error.message));
    socket.setTimeout(TIMEOUT_MS, () => {
      failure = `no answer in ${TIMEOUT_MS} ms`;
      socket.destroy();
    });
    socket.on('close', () => resolve(parseRaw(Buffer.concat(chunks), failure)));
    // Not end(): Node's server aborts a request whose client half-closes before the answer.
    socket.write(bytes);
  });
}

function parseRaw(data: Buffer, failure: string | undefined): Outcome {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0)
    return { status: 0, headers: {}, body: '', failure: failure ?? `no response: ${text}` };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: decode(headers['content-encoding'], body).toString('utf8'),
    // A reset after a whole response is the server closing on unread bytes, not a crash.
    failure: undefined,
  };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 4 + size;
  }
  return Buffer.concat(parts);
}
