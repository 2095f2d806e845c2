/**
 * Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): each list gives an item `weight / (k + rank)`, and
 * the sums rank the union. It needs only ranks, so lists whose scores are incomparable — cosine similarity,
 * ts_rank_cd, BM25 — fuse without any normalisation, and an item near the top of any list rises.
 */

export interface RankedList<T> {
  /** Best first. */
  items: T[];
  /** Default 1. */
  weight?: number;
}

export interface FusedItem<T> {
  key: string;
  /** The item as the first list that had it gave it. */
  item: T;
  score: number;
  /** 1-based rank in each input list, or null where it was absent. */
  ranks: (number | null)[];
}

export interface FusionOptions<T> {
  /** Identifies the same item across lists. */
  key: (item: T) => string;
  /** Dampens the weight of the very top ranks; 60 is the value of the original paper. */
  k?: number;
  limit?: number;
}

/** Fuses ranked lists; ties go to the item with the better best rank, then to the key, so the order is stable. */
export function reciprocalRankFusion<T>(lists: (T[] | RankedList<T>)[], opts: FusionOptions<T>): FusedItem<T>[] {
  const k = opts.k ?? 60;
  const fused = sumPerItem(
    lists.map((list) => (Array.isArray(list) ? { items: list } : list)),
    opts.key,
    ({ weight = 1 }) =>
      (_, i) =>
        weight / (k + i + 1),
  );
  const bestRank = (f: FusedItem<T>) => Math.min(...f.ranks.map((r) => r ?? Infinity));
  const sorted = [...fused.values()].sort(
    (a, b) => b.score - a.score || bestRank(a) - bestRank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  return opts.limit === undefined ? sorted : sorted.slice(0, opts.limit);
}

/**
 * How much the semantic list counts beside lexical BM25 when the two are fused. The built-in hash embedder is
 * lexical feature hashing: fused at full weight, its near-misses (shared character 3-grams) push BM25's exact
 * matches down, which lowers recall. It keeps a small weight, enough to break ties and to bring in facts (only the
 * semantic tier indexes them), never enough to outrank a strong lexical hit. A neural embedder counts in full.
 */
export function semanticFusionWeight(embedderId: string | undefined): number {
  if (embedderId === undefined) return 0;
  return embedderId.startsWith('local-hash') ? HASH_EMBEDDER_WEIGHT : 1;
}

export const HASH_EMBEDDER_WEIGHT = 0.25;

export interface ScoredList<T> {
  /** Any order; scores higher-is-better, non-negative (a negative score counts as 0). */
  items: T[];
  score: (item: T) => number;
  /** Default 1. */
  weight?: number;
}

/**
 * Convex combination of max-normalised scores (Bruch, Gai and Ingber, 2023, found it at least as good as reciprocal
 * rank fusion and more robust to tune): each list's scores are divided by its best, weighted and summed per item.
 * Unlike rank fusion it keeps how far apart the scores are — a BM25 hit at a fifth of the best score stays a weak
 * hit, where RRF would rank it barely below the best — so later stages (neighbours, session smoothing, speaker
 * lift) weigh real relevance.
 */
export function normalisedScoreFusion<T>(lists: ScoredList<T>[], opts: { key: (item: T) => string }): FusedItem<T>[] {
  const fused = sumPerItem(lists, opts.key, ({ items, score, weight = 1 }) => {
    const max = Math.max(0, ...items.map(score));
    // A list with no positive score contributes nothing (not even its items' presence).
    return max <= 0 ? undefined : (item) => (weight * Math.max(0, score(item))) / max;
  });
  return [...fused.values()].sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The union of the lists, each item's score the sum of what each list gives it. `contribution` returns, per list, what
 * an item at a rank gets (undefined: the list is skipped). A list that repeats an item counts it once, at its best
 * rank.
 */
function sumPerItem<T, L extends { items: T[] }>(
  lists: L[],
  keyOf: (item: T) => string,
  contribution: (list: L) => ((item: T, index: number) => number) | undefined,
): Map<string, FusedItem<T>> {
  const fused = new Map<string, FusedItem<T>>();
  lists.forEach((list, li) => {
    const give = contribution(list);
    if (!give) return;
    list.items.forEach((item, i) => {
      const key = keyOf(item);
      let entry = fused.get(key);
      if (!entry) {
        entry = { key, item, score: 0, ranks: lists.map(() => null) };
        fused.set(key, entry);
      }
      if (entry.ranks[li] !== null) return;
      entry.ranks[li] = i + 1;
      entry.score += give(item, i);
    });
  });
  return fused;
}
