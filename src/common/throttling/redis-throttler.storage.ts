import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * One round trip: while the block key lives, report it without counting; otherwise count the
 * hit in a fixed window that starts at its first hit, and block for `blockDuration` at the
 * first hit over the limit. Both keys share a hash tag, so that a Redis Cluster keeps them on
 * one node. Returns hits, ms left in the window, blocked (0/1), ms left in the block.
 */
const INCREMENT_SCRIPT = `
local ttl, limit, block = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  local hits = tonumber(redis.call('GET', KEYS[1]) or limit + 1)
  return { hits, math.max(redis.call('PTTL', KEYS[1]), 0), 1, blocked }
end
local hits = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  left = ttl
end
if hits > limit and block > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', block)
  return { hits, left, 1, block }
end
return { hits, left, 0, 0 }
`;

type IncrementCommand = (
  hitsKey: string,
  blockKey: string,
  ttl: number,
  limit: number,
  blockDuration: number,
) => Promise<[number, number, number, number]>;

/**
 * The throttler's counters in Redis, over the service's one shared connection, so that every
 * replica counts against the same budgets. Times in the record are in whole seconds, rounded
 * up, as @nestjs/throttler's own in-memory storage gives them.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly command: IncrementCommand;

  constructor(
    redis: Redis,
    private readonly prefix = 'throttle:',
  ) {
    redis.defineCommand('throttlerIncrement', { numberOfKeys: 2, lua: INCREMENT_SCRIPT });
    const commands = redis as unknown as { throttlerIncrement: IncrementCommand };
    this.command = commands.throttlerIncrement.bind(redis);
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `${this.prefix}{${throttlerName}:${key}}`;
    const [hits, leftMs, blocked, blockMs] = await this.command(
      base,
      `${base}:blocked`,
      ttl,
      limit,
      blockDuration,
    );
    return {
      totalHits: hits,
      timeToExpire: Math.ceil(leftMs / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.ceil(blockMs / 1000),
    };
  }
}
