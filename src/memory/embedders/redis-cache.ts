/**
 * A Redis L2 for `BatchingEmbedder`, shared by every worker: a text one process embedded is not paid for again by
 * another. Vectors are stored as base64 of their float32 bytes — a quarter of the size of JSON, and float32 is the
 * precision providers return anyway.
 */
import { Redis } from 'ioredis';
import type { EmbeddingCache } from './batching';

export interface RedisEmbeddingCacheOptions {
  /** Key prefix. Default `memoir:emb:`. */
  prefix?: string;
}

/** An `EmbeddingCache` in Redis, with a TTL per entry. */
export class RedisEmbeddingCache implements EmbeddingCache {
  private readonly prefix: string;

  /** Uses `redis` without owning it; `fromUrl` makes one that `close()` ends. */
  constructor(
    private readonly redis: Redis,
    opts: RedisEmbeddingCacheOptions = {},
    private readonly owned = false,
  ) {
    this.prefix = opts.prefix ?? 'memoir:emb:';
  }

  /** Connects to `url`. Auto-pipelining folds a batch's concurrent GETs and SETs into one round trip. */
  static fromUrl(url: string, opts: RedisEmbeddingCacheOptions = {}): RedisEmbeddingCache {
    const redis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
    // A cache must not crash the process when Redis goes away; commands fail and callers fall back.
    redis.on('error', () => undefined);
    return new RedisEmbeddingCache(redis, opts, true);
  }

  async get(key: string): Promise<number[] | undefined> {
    const value = await this.redis.get(this.prefix + key);
    return value === null ? undefined : decodeVector(value);
  }

  async set(key: string, value: number[], ttlSeconds: number): Promise<void> {
    await this.redis.set(this.prefix + key, encodeVector(value), 'EX', Math.max(1, Math.round(ttlSeconds)));
  }

  async eraseScope(scope: string): Promise<number> {
    // Scopes are ids joined by `/` (`[A-Za-z0-9._/-]`): no glob characters to escape.
    let erased = 0;
    for await (const keys of this.redis.scanStream({ match: `${this.prefix}${scope}/*`, count: 500 })) {
      const batch = keys as string[];
      if (batch.length > 0) erased += await this.redis.del(...batch);
    }
    return erased;
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    // QUIT waits for a reply a client that never connected will not get.
    if (this.redis.status === 'ready') await this.redis.quit();
    else this.redis.disconnect();
  }
}

/** base64 of the vector's float32 little-endian bytes. */
export function encodeVector(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/** The inverse of `encodeVector`. */
export function decodeVector(s: string): number[] {
  const buf = Buffer.from(s, 'base64');
  const out = new Array<number>(buf.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
