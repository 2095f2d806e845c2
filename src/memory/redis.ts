/**
 * The Redis connection of the memory tiers. It fails fast instead of queueing: when Redis is down a tier read
 * must fall back to PostgreSQL at once, not wait for a reconnect.
 */
import { Redis } from 'ioredis';

/** Connects and waits (briefly) for the first connection; Redis being down at start is not fatal. */
export async function connectRedis(url: string, waitMs = 2_000): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    // Keep trying in the background so the tier comes back by itself after an outage.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // Errors surface on commands (and are counted there); an unhandled 'error' event would crash the process.
  redis.on('error', () => undefined);
  // Without the offline queue a command sent before the first connection fails: wait for it (not forever).
  await Promise.race([redis.connect().catch(() => undefined), new Promise((r) => setTimeout(r, waitMs))]);
  return redis;
}
