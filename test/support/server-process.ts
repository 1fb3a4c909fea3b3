import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/common/net/free-port.js';
import { contract, type ObservedResponse } from './contract.js';

/** Reports each response of the process on fd 3, for the contract check. */
const REPORTER = fileURLToPath(new URL('../fixtures/report-responses.mjs', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Script to run with node; the built server by default. */
  script?: string;
  args?: string[];
  /** Environment on top of the run's own; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Pass the port as the first argument rather than as PORT. */
  portAsArgument?: boolean;
  /** Working directory of the process; this one by default. */
  cwd?: string;
}

/** The built server running as a child process, as it runs in production. */
export class ServerProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    onLines(child.stdout!, (line) => this.stdout.push(line));
    onLines(child.stderr!, (line) => this.stderr.push(line));
    onLines(child.stdio[3] as NodeJS.ReadableStream, (line) =>
      contract.record(JSON.parse(line) as ObservedResponse),
    );
    this.exited = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process; it may still be starting up when this returns. */
  static async spawn(options: SpawnOptions = {}): Promise<ServerProcess> {
    const port = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '0',
      // Sign-in counters live in the run's shared Redis, where other suites sign in from the
      // same address at the same time.
      LOGIN_RATE_LIMIT_MAX: '1000000',
      ...options.env,
    };
    const args = options.args ?? [];
    if (options.portAsArgument) {
      args.unshift(String(port));
      env.PORT = String(await freePort());
    }
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    const script = options.script ?? 'dist/main.js';
    const child = spawn(process.execPath, ['--import', REPORTER, script, ...args], {
      env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    return new ServerProcess(child, port);
  }

  /** Starts the process and waits until it answers on its port. */
  static async start(options: SpawnOptions = {}): Promise<ServerProcess> {
    const server = await ServerProcess.spawn(options);
    await server.waitUntilServing();
    return server;
  }

  async waitUntilServing(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (Date.now() < deadline && !exited) {
      try {
        await fetch(`${this.url}/health/live`);
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`server did not start:\n${this.stderr.join('\n')}\n${this.stdout.join('\n')}`);
  }

  /** Parsed JSON log lines written so far. */
  logs(): Record<string, unknown>[] {
    return this.stdout.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Ends the process whatever state it is in. */
  async stop(): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }
}

function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.filter(Boolean).forEach(onLine);
  });
}
