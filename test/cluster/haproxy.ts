import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/common/net/free-port.js';

export const HAPROXY = process.env.HAPROXY_PATH ?? 'haproxy';

/** Readiness probing as a kubelet does it, only faster: 200 ms apart, two in a row to switch. */
const CHECK = { interMs: 200, fall: 2, rise: 2 };

export interface Backend {
  name: string;
  port: number;
}

/** A server line of the stats CSV: state and the counters that show trouble. */
export interface ServerStats {
  status: string;
  /** Requests sent to the server (sessions, in HAProxy's words). */
  total: number;
  /** Connection errors, response errors, retries and redispatches, as HAProxy counts them. */
  connectionErrors: number;
  responseErrors: number;
  retries: number;
  redispatches: number;
}

/**
 * The configuration, and why:
 * - Readiness is `GET /health/ready` expecting 200, every 200 ms, `fall 2 rise 2`: a replica
 *   that starts draining (503) is out within about half a second, well inside the server's
 *   SHUTDOWN_DELAY_MS, so no request is sent to it after its listener closes.
 * - Keep-alive to the servers (HAProxy's default mode) with `http-reuse safe`: the server
 *   answers `Connection: close` while draining, and HAProxy drops that connection; it closes
 *   idle pooled ones itself long before the server's own keep-alive timeout would, so the two
 *   never race to close one connection.
 * - Retries (`retries 3`, `option redispatch 1`: each retry on another server) only where
 *   they are safe for any method: `retry-on conn-failure` (nothing was sent). `empty-response`
 *   (the request was sent and nothing came back) is retried for GET and HEAD only, through
 *   `disable-l7-retry` for every other method: a POST that reached a server may have been
 *   processed, and a retry would duplicate it. No retry on 5xx: a 503 from a replica would
 *   be hidden instead of failing the run.
 */
export function haproxyConfig(frontendPort: number, statsPort: number, backends: Backend[]) {
  const servers = backends.map(
    ({ name, port }) => `  server ${name} 127.0.0.1:${port} check inter ${CHECK.interMs}ms`,
  );
  return [
    'global',
    '  log stdout format raw local0',
    '  maxconn 2000',
    '',
    'defaults',
    '  mode http',
    '  log global',
    // Only abnormal requests are logged: errors, retries, redispatches, 5xx.
    '  option httplog',
    '  option dontlog-normal',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 30s',
    '  timeout queue 10s',
    '  timeout check 1s',
    '',
    'frontend api',
    `  bind 127.0.0.1:${frontendPort}`,
    '  default_backend replicas',
    '',
    'backend replicas',
    '  balance roundrobin',
    '  http-reuse safe',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    '  http-request disable-l7-retry unless { method GET HEAD }',
    '  option httpchk',
    '  http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host localhost',
    '  http-check expect status 200',
    `  default-server fall ${CHECK.fall} rise ${CHECK.rise}`,
    ...servers,
    '',
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

/** HAProxy in the foreground as a child process, on free loopback ports. */
export class HaProxy {
  /** Server state changes, and the requests that HAProxy found abnormal. */
  readonly log: string[] = [];
  private readonly stderr: string[] = [];
  private readonly exited: Promise<unknown>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    private readonly statsPort: number,
  ) {
    // The log goes to stdout; stderr repeats state changes as warnings, and says why a start
    // failed.
    onLines(child.stdout!, (line) => this.log.push(line));
    onLines(child.stderr!, (line) => this.stderr.push(line));
    this.exited = once(child, 'exit');
  }

  /** Whether the haproxy binary can be run. */
  static available(): boolean {
    return spawnSync(HAPROXY, ['-v']).status === 0;
  }

  static async start(backends: Backend[]): Promise<HaProxy> {
    const [port, statsPort] = [await freePort(), await freePort()];
    const dir = await mkdtemp(join(tmpdir(), 'docs-api-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, haproxyConfig(port, statsPort, backends));
    const child = spawn(HAPROXY, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const haproxy = new HaProxy(child, dir, port, statsPort);
    for (let attempt = 0; attempt < 100; attempt++) {
      if (child.exitCode !== null) break;
      if (
        await haproxy.servers().then(
          () => true,
          () => false,
        )
      )
        return haproxy;
      await sleep(50);
    }
    await haproxy.stop();
    throw new Error(`haproxy did not start:\n${haproxy.stderr.join('\n')}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The backend's servers by name, from the stats page's CSV export. */
  async servers(): Promise<Map<string, ServerStats>> {
    const response = await fetch(`http://127.0.0.1:${this.statsPort}/stats;csv`);
    const [header, ...rows] = (await response.text()).trim().split('\n');
    const columns = header.replace(/^# /, '').split(',');
    const servers = new Map<string, ServerStats>();
    for (const row of rows) {
      const cells = row.split(',');
      const field = (name: string) => cells[columns.indexOf(name)];
      if (field('pxname') !== 'replicas' || ['FRONTEND', 'BACKEND'].includes(field('svname'))) {
        continue;
      }
      servers.set(field('svname'), {
        status: field('status'),
        total: Number(field('stot')),
        connectionErrors: Number(field('econ')),
        responseErrors: Number(field('eresp')),
        retries: Number(field('wretr')),
        redispatches: Number(field('wredis')),
      });
    }
    return servers;
  }

  /** Waits until HAProxy reports `server` in a state that `accept` takes. */
  async waitFor(
    server: string,
    accept: (status: string) => boolean,
    timeoutMs = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let status = 'unknown';
    while (Date.now() < deadline) {
      status = (await this.servers()).get(server)?.status ?? 'absent';
      if (accept(status)) return;
      await sleep(50);
    }
    throw new Error(`HAProxy still reports ${server} as "${status}" after ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop() ?? '';
    lines.filter(Boolean).forEach(onLine);
  });
}
