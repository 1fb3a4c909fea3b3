import type { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, type Reply } from '../../support/http.js';

/** No request of these suites may take longer than this: past it, it counts as unanswered. */
const ANSWER_TIMEOUT_MS = 15_000;

export type { Reply };

export interface SendOptions {
  body?: unknown;
  /** Session token, sent as the `sid` cookie. */
  session?: string;
  /** Source address on the loopback network, to be another client for the rate limiter. */
  localAddress?: string;
}

/** One request, on `agent`'s keep-alive connections, with the body read whole. */
export function send(
  agent: Agent,
  baseUrl: string,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Reply> {
  return call(baseUrl, method, path, { ...options, agent, timeoutMs: ANSWER_TIMEOUT_MS });
}

/** What became of one request: its reply, or the error that stood for it, and its duration. */
export interface Outcome {
  reply?: Reply;
  error?: Error;
  durationMs: number;
}

export async function timed(
  agent: Agent,
  baseUrl: string,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Outcome> {
  const started = performance.now();
  try {
    const reply = await send(agent, baseUrl, method, path, options);
    return { reply, durationMs: performance.now() - started };
  } catch (error) {
    return { error: error as Error, durationMs: performance.now() - started };
  }
}

const FAILURES_KEPT = 20;

/** Counts of one group of requests: by status (or `error`), failures, and durations. */
export class Tally {
  readonly statuses: Record<string, number> = {};
  /** Labels of the answers that were counted in `statuses` (X-Cache values, ...). */
  readonly labels: Record<string, number> = {};
  /** The first few failures, described; `failed` counts them all. */
  readonly failures: string[] = [];
  failed = 0;
  private readonly durations: number[] = [];

  constructor(readonly name: string) {}

  get requests(): number {
    return this.durations.length;
  }

  /**
   * Counts an outcome; `failure` says what was wrong with it, if anything. Unanswered
   * requests count under `error`.
   */
  add(outcome: Outcome, failure?: string, label?: string): void {
    const key = outcome.reply ? String(outcome.reply.status) : 'error';
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    if (label) this.labels[label] = (this.labels[label] ?? 0) + 1;
    this.durations.push(outcome.durationMs);
    if (failure === undefined) return;
    this.failed += 1;
    if (this.failures.length < FAILURES_KEPT) this.failures.push(failure);
  }

  count(status: number | 'error'): number {
    return this.statuses[String(status)] ?? 0;
  }

  /** Duration (ms) below which `fraction` of the requests finished. */
  percentile(fraction: number): number {
    if (this.durations.length === 0) return 0;
    const sorted = [...this.durations].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
  }

  get maxMs(): number {
    return this.durations.reduce((max, ms) => Math.max(max, ms), 0);
  }

  /** One line: requests, statuses, labels, failures, durations. */
  summary(): string {
    const statuses = Object.entries(this.statuses)
      .map(([status, n]) => `${status}:${n}`)
      .join(' ');
    const labels = Object.entries(this.labels)
      .map(([label, n]) => `${label}:${n}`)
      .join(' ');
    const ms = (value: number) => value.toFixed(0);
    return [
      `${this.name}: ${this.requests} requests`,
      `statuses {${statuses}}`,
      ...(labels ? [`labels {${labels}}`] : []),
      `${this.failed} failures`,
      `ms p50 ${ms(this.percentile(0.5))} p99 ${ms(this.percentile(0.99))} max ${ms(this.maxMs)}`,
    ].join(', ');
  }
}

export interface LoopLimits {
  /** Steps in all, at most. */
  maxSteps?: number;
  /** Each loop starts a step at most this often, so that a fast machine sends no more. */
  minIntervalMs?: number;
}

/**
 * Runs `concurrency` loops that each call `step(loop, iteration)` one after the other until
 * `running()` turns false or the limits are reached; resolves to the number of steps run.
 */
export async function loops(
  concurrency: number,
  running: () => boolean,
  step: (loop: number, iteration: number) => Promise<void>,
  { maxSteps = Number.POSITIVE_INFINITY, minIntervalMs = 0 }: LoopLimits = {},
): Promise<number> {
  let steps = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      const started = Date.now();
      for (let iteration = 0; running() && steps < maxSteps; iteration++) {
        const due = started + iteration * minIntervalMs;
        if (due > Date.now()) await sleep(due - Date.now());
        steps += 1;
        await step(loop, iteration);
      }
    }),
  );
  return steps;
}

/** Prints one line of a case's counts, outside Jest's console capture. */
export function report(line: string): void {
  process.stdout.write(`[faults] ${line}\n`);
}
