/**
 * Per-tenant rate limits: a token bucket per tenant, in Redis when there is one (shared by every API process), in
 * process otherwise. A refused request learns when to come back (`Retry-After`).
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

export interface RateDecision {
  allowed: boolean;
  /** When a token will be available, if refused. */
  retryAfterMs: number;
}

export interface RateLimiter {
  take(tenantId: string): Promise<RateDecision>;
}

export interface BucketSettings {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Largest burst. */
  burst: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new LRUCache<string, { tokens: number; at: number }>({ max: 100_000 });

  constructor(
    private readonly s: BucketSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async take(tenantId: string): Promise<RateDecision> {
    const now = this.now();
    const b = this.buckets.get(tenantId) ?? { tokens: this.s.burst, at: now };
    b.tokens = Math.min(this.s.burst, b.tokens + ((now - b.at) / 1000) * this.s.ratePerSecond);
    b.at = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    this.buckets.set(tenantId, b);
    return { allowed, retryAfterMs: allowed ? 0 : Math.ceil(((1 - b.tokens) / this.s.ratePerSecond) * 1000) };
  }
}

// Refill and take atomically in Redis: KEYS[1] bucket; ARGV rate/s, burst, now ms. Returns {allowed, retry ms}.
const TAKE = `
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
tokens = math.min(burst, tokens + (math.max(0, now - at) / 1000) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
if allowed == 1 then return {1, 0} end
return {0, math.ceil((1 - tokens) / rate * 1000)}
`;

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly s: BucketSettings,
    /** Used while Redis is unreachable: limits stay on, per process. */
    private readonly fallback: RateLimiter,
  ) {}

  async take(tenantId: string): Promise<RateDecision> {
    try {
      const [allowed, retry] = (await this.redis.eval(
        TAKE,
        1,
        `memoir:rate:${tenantId}`,
        this.s.ratePerSecond,
        this.s.burst,
        Date.now(),
      )) as [number, number];
      return { allowed: allowed === 1, retryAfterMs: retry };
    } catch {
      return this.fallback.take(tenantId);
    }
  }
}
