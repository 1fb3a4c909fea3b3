import { request, type Agent } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: any;
  text: string;
}

export interface CallOptions {
  body?: unknown;
  /** Raw body, sent as is (for malformed JSON and other media types). */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Session token to send as the `sid` cookie. */
  session?: string;
  /** Source address on the loopback network (127.0.0.2, ...), to act as another client. */
  localAddress?: string;
  /** Keep-alive connections to send on; without an agent, a fresh connection that closes. */
  agent?: Agent;
  /** Rejects when no whole answer has come within this time. */
  timeoutMs?: number;
}

/** One HTTP/1.1 request, over a fresh connection unless an agent is given, read whole. */
export function call(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Reply> {
  const url = new URL(path, baseUrl);
  const payload =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = {
    ...(options.agent ? {} : { connection: 'close' }),
    ...options.headers,
  };
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (options.session) headers.cookie = `sid=${options.session}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers,
        localAddress: options.localAddress,
        agent: options.agent,
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The session token a login response set, from its `Set-Cookie`. */
export function sessionFrom(reply: Reply): string {
  const cookies = ([] as string[]).concat(reply.headers['set-cookie'] ?? []);
  const sid = cookies.find((cookie) => cookie.startsWith('sid='));
  if (!sid) throw new Error(`no session cookie in ${reply.status} ${reply.text}`);
  return sid.slice(4).split(';')[0];
}
