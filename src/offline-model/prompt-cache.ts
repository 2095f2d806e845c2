/**
 * Prompt caching as the Messages API documents it: a request is a sequence of blocks (tools → system → messages);
 * a `cache_control` breakpoint caches the prefix that ends at its block, for 5 minutes or 1 hour, refreshed on use;
 * a prefix shorter than the model's minimum is not cached; a later request reads the longest cached prefix,
 * checking up to 20 block boundaries before each breakpoint.
 */
import { createHash } from 'node:crypto';

export interface PromptBlock {
  /** Canonical JSON of the block without its cache_control: what identifies its content. */
  key: string;
  tokens: number;
  cacheTtl?: '5m' | '1h';
}

export interface CacheUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
}

const TTL_MS = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;
const LOOKBACK_BLOCKS = 20;

export class PromptCache {
  private readonly entries = new Map<string, { expiresAt: number; ttlMs: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Accounts one request's prompt: which tokens are read from cache, written to it, or billed as plain input. */
  account(scope: string, blocks: PromptBlock[], minCacheableTokens: number): CacheUsage {
    const hashes: string[] = [];
    const cumulative: number[] = [];
    let hash = createHash('sha256').update(scope).digest('hex');
    let total = 0;
    for (const block of blocks) {
      hash = createHash('sha256').update(hash).update(block.key).digest('hex');
      total += block.tokens;
      hashes.push(hash);
      cumulative.push(total);
    }
    const breakpoints = blocks.flatMap((b, i) => (b.cacheTtl ? [i] : []));
    const now = this.now();

    // The longest cached prefix reachable from some breakpoint's lookback window.
    let readEnd = -1;
    for (const bp of breakpoints) {
      for (let i = bp; i >= Math.max(0, bp - LOOKBACK_BLOCKS); i--) {
        const entry = this.entries.get(hashes[i]!);
        if (entry && entry.expiresAt > now) {
          if (i > readEnd) readEnd = i;
          break;
        }
      }
    }
    const readTokens = readEnd >= 0 ? cumulative[readEnd]! : 0;

    // Refresh what was read; write every breakpoint past it whose prefix is long enough.
    let written = readTokens;
    const write = { '5m': 0, '1h': 0 };
    for (const bp of breakpoints) {
      const ttl = blocks[bp]!.cacheTtl!;
      if (cumulative[bp]! < minCacheableTokens) continue;
      this.entries.set(hashes[bp]!, { expiresAt: now + TTL_MS[ttl], ttlMs: TTL_MS[ttl] });
      if (bp > readEnd && cumulative[bp]! > written) {
        write[ttl] += cumulative[bp]! - written;
        written = cumulative[bp]!;
      }
    }
    const hit = readEnd >= 0 ? this.entries.get(hashes[readEnd]!) : undefined;
    if (hit) hit.expiresAt = now + hit.ttlMs;
    this.evictExpired(now);
    return {
      inputTokens: total - written,
      cacheReadTokens: readTokens,
      cacheWrite5mTokens: write['5m'],
      cacheWrite1hTokens: write['1h'],
    };
  }

  clear(): void {
    this.entries.clear();
  }

  private evictExpired(now: number): void {
    if (this.entries.size < 10_000) return;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
