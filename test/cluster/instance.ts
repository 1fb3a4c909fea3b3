import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Lines of output kept per instance, for the failure message of a crash. */
const OUTPUT_LINES = 200;

/**
 * One replica of the built server (`node dist/main.js`, from the suite's own build) on a fixed
 * port, so that it can be stopped and started again behind a load balancer that knows it by
 * address, as a pod is replaced behind a Service.
 */
export class Instance {
  readonly output: string[] = [];
  private child?: ChildProcess;
  private exit?: Promise<Exit>;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly script: string,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && !this.child.signalCode;
  }

  /** Starts a new process and waits until `/health/ready` answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`instance ${this.name} is already running`);
    const child = spawn(process.execPath, [this.script], {
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(this.port), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exit = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => this.keep(chunk));
    }
    await this.waitUntilReady(timeoutMs);
  }

  /** Resolves when the current process has exited. */
  exited(): Promise<Exit> {
    if (!this.exit) throw new Error(`instance ${this.name} was never started`);
    return this.exit;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Ends the process at once, whatever state it is in. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exit;
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.running) {
      const status = await fetch(`${this.url}/health/ready`).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) return;
      await sleep(100);
    }
    await this.kill();
    throw new Error(
      `instance ${this.name} did not become ready on port ${this.port}:\n${this.output.join('\n')}`,
    );
  }

  private keep(chunk: string): void {
    this.output.push(...chunk.split('\n').filter(Boolean));
    this.output.splice(0, Math.max(0, this.output.length - OUTPUT_LINES));
  }
}
