import { connect, type Socket } from 'node:net';

/** A plain TCP connection to a test server, for what fetch cannot do (dribbling, HTTP/1.0). */
export class RawConnection {
  private received = '';
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.received += chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () =>
        resolve(new RawConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Everything received so far. */
  get text(): string {
    return this.received;
  }

  /** Waits until `count` complete responses (by Content-Length) have arrived. */
  async responses(count: number, timeoutMs = 5_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = splitResponses(this.received);
      if (parsed.length >= count) return parsed;
      if (Date.now() > deadline)
        throw new Error(`only ${parsed.length} responses: ${this.received}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function splitResponses(data: string): string[] {
  const responses: string[] = [];
  let rest = data;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return responses;
    const head = rest.slice(0, end);
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const total = end + 4 + length;
    if (rest.length < total) return responses;
    responses.push(rest.slice(0, total));
    rest = rest.slice(total);
  }
}
