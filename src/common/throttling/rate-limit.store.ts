import type { Redis } from 'ioredis';

export interface WindowCount {
  /** Hits in the current window, this one included. */
  hits: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/**
 * Fixed-window hit counters shared by every rate limit of the service: in Redis when it is
 * configured, so that all replicas count together, else in process memory.
 */
export abstract class RateLimitStore {
  /** Counts one hit against `key` in a window of `windowMs` that starts at its first hit. */
  abstract hit(key: string, windowMs: number): Promise<WindowCount>;
}

/** One round trip: increment, start the window on the first hit, read what is left of it. */
const HIT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { hits, ttl }
`;

export class RedisRateLimitStore extends RateLimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'ratelimit:',
  ) {
    super();
    this.redis.defineCommand('rateLimitHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  }

  async hit(key: string, windowMs: number): Promise<WindowCount> {
    const command = this.redis as unknown as {
      rateLimitHit(key: string, windowMs: number): Promise<[number, number]>;
    };
    const [hits, resetMs] = await command.rateLimitHit(this.prefix + key, windowMs);
    return { hits, resetMs };
  }
}

export class MemoryRateLimitStore extends RateLimitStore {
  private readonly windows = new Map<string, { hits: number; resetAt: number }>();
  private nextSweep = 0;

  hit(key: string, windowMs: number): Promise<WindowCount> {
    const now = Date.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { hits: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.hits += 1;
    return Promise.resolve({ hits: window.hits, resetMs: window.resetAt - now });
  }

  /** Drops ended windows now and then, so that memory follows the live keys only. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + 10_000;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}
