/**
 * The shortest prefix each model caches, in tokens; below it a `cache_control` breakpoint is silently ignored
 * (billed as plain input). From Anthropic's prompt-caching guide; the 5.5 family is not listed in the copies we
 * could read, so those three rows are assumptions (Opus 5.5 as Opus 5, Sonnet 5.5 as Sonnet 5, Haiku 5.5 at 2,048)
 * and can be overridden with `MEMOIR_CACHE_MINIMUMS` (JSON: `{"model": tokens}`).
 */
export const DEFAULT_CACHE_MINIMUMS: Record<string, number> = {
  'claude-opus-5-5': 512,
  'claude-sonnet-5-5': 1024,
  'claude-haiku-5-5': 2048,
  'claude-opus-5': 512,
  'claude-sonnet-5': 1024,
  'claude-opus-4-8': 1024,
  'claude-opus-4-7': 2048,
  'claude-opus-4-6': 4096,
  'claude-opus-4-5': 4096,
  'claude-sonnet-4-6': 1024,
  'claude-sonnet-4-5': 1024,
  'claude-haiku-4-5': 4096,
};

/** Unknown models get the most conservative minimum. */
export const FALLBACK_CACHE_MINIMUM = 4096;

export function cacheMinimum(table: Record<string, number>, model: string): number {
  return table[model] ?? table[model.replace(/-\d{8}$/, '')] ?? FALLBACK_CACHE_MINIMUM;
}
