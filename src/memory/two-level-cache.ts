/**
 * A two-level cache: an in-process LRU (L1) in front of Redis (L2), both with TTLs. L2 is optional (the embedded
 * default has none) and best-effort: a Redis error is a miss, never a failure.
 */
import { LRUCache } from 'lru-cache';
import type { Redis } from 'ioredis';

export interface TwoLevelCacheOptions {
  name: string;
  maxEntries: number;
  l1TtlMs: number;
  l2TtlSeconds: number;
  onL2Error?: (err: unknown) => void;
}

export class TwoLevelCache<T extends object> {
  private readonly l1: LRUCache<string, T>;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly opts: TwoLevelCacheOptions,
  ) {
    this.l1 = new LRUCache({ max: opts.maxEntries, ttl: opts.l1TtlMs });
  }

  private l2Key(key: string) {
    return `memoir:cache:${this.opts.name}:${key}`;
  }

  async get(key: string): Promise<T | undefined> {
    const hit = this.l1.get(key);
    if (hit !== undefined || !this.redis) return hit;
    try {
      const raw = await this.redis.get(this.l2Key(key));
      if (raw === null) return undefined;
      const value = JSON.parse(raw) as T;
      this.l1.set(key, value);
      return value;
    } catch (err) {
      this.opts.onL2Error?.(err);
      return undefined;
    }
  }

  async set(key: string, value: T): Promise<void> {
    this.l1.set(key, value);
    if (!this.redis) return;
    try {
      await this.redis.set(this.l2Key(key), JSON.stringify(value), 'EX', this.opts.l2TtlSeconds);
    } catch (err) {
      this.opts.onL2Error?.(err);
    }
  }

  /**
   * For erasure: removes the entry from this process and from Redis, where a failure is an error, not a miss.
   * Returns how many entries were removed. Other processes' L1 copies expire within `l1TtlMs`.
   */
  async erase(key: string): Promise<number> {
    const local = this.l1.delete(key) ? 1 : 0;
    return local + (this.redis ? await this.redis.del(this.l2Key(key)) : 0);
  }

  async delete(key: string): Promise<void> {
    this.l1.delete(key);
    if (!this.redis) return;
    try {
      await this.redis.del(this.l2Key(key));
    } catch (err) {
      this.opts.onL2Error?.(err);
    }
  }

  /** Read through: the cached value, else `load()`'s (cached when defined). */
  async getOrLoad(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const cached = await this.get(key);
    if (cached !== undefined) return cached;
    const loaded = await load();
    if (loaded !== undefined) await this.set(key, loaded);
    return loaded;
  }
}
