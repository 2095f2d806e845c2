/**
 * From fused retrieval hits to the order recall fills the budget in. The steps, all pure:
 *
 *   1. Neighbour expansion. A hit's neighbouring turns (the question it answers, the reply it got) join the
 *      candidates at a share of its score, and a hit next to other hits gains a little (a run of matching turns is
 *      more likely the passage asked about than one stray line).
 *   2. Diversity (maximal marginal relevance, Carbonell and Goldstein, 1998). Each next pick trades its score
 *      against its word overlap with what is already picked, so a question about two things recalls both rather
 *      than five paraphrases of one.
 */

/** How hits are weighed against each other; the defaults are what the LoCoMo dev split (all five) was tuned on. */
export interface RankingWeights {
  /** Turns on each side of a recalled message that join the candidates. */
  neighbourRadius: number;
  /** A neighbour's score as a share of its hit's. */
  neighbourWeight: number;
  /** Maximal marginal relevance trade-off: 1 keeps the fused order, lower favours variety. */
  diversityLambda: number;
  /**
   * Session smoothing: a candidate gains up to this share of its score from the other hits of its session (the
   * day it was said), relative to the session with the most: passages of a session that matches as a whole rank
   * above stray lines.
   */
  sessionWeight: number;
  /** A question that names one participant lifts what that participant said by this share. */
  speakerWeight: number;
  /**
   * A question that names a day ("on 9 November, 2022") or a month ("in May", "September 2022") lifts what was said
   * then by this share: the date says which session it is about better than any of its words.
   */
  dateWeight: number;
  /** A fact's source turn, pulled in by a hit on the fact, at this share of the fact's score. */
  factSourceWeight: number;
  /**
   * How the lexical and semantic lists are fused: `score` (max-normalised scores, `normalisedScoreFusion`) keeps
   * how much better one hit is than another, so the weights above act on relevance; `rank` (reciprocal rank
   * fusion) flattens the scores to ranks.
   */
  fusion: 'score' | 'rank';
}

/**
 * Chosen with bench/tune-recall.ts on all five dev conversations (strict recall @2k / @4k / multi-hop @4k): session
 * smoothing 0 → 0.3 took 65.7 / 80.8 / 43.7 to 69.7 / 81.6 / 44.4 (0.6 was no better); the speaker lift 0.2 → 1
 * took 70.1 / 81.6 / 44.4 to 75.1 / 83.3 / 49.3 (2: 74.3 / 83.8 / 52.1; 4: 73.4 / 83.3 / 54.2). A lower neighbour
 * weight (0.3) and no diversity (lambda 1) were worse. With the harness replaying the turn path's upkeep (so its
 * figures match the suite's), fusing by score instead of rank took 74.5 / 83.4 / 50.0 to 76.7 / 83.4 / 49.3; under
 * score fusion a speaker lift of 0.5 was worse (75.0 / 82.4 / 46.5), session smoothing 0.6 no better at 2k (76.7);
 * with the recall share at 0.7, the speaker lift 1 → 2 took 77.9 / 83.6 / 49.3 to 78.3 / 84.3 / 52.8 (four of the
 * five conversations up at each budget). Fused by score, a lift no longer lets a one-word hit jump a strong one.
 * Of the misses at 4k, about half the evidence turns were retrieved but ranked below the budget and half never
 * retrieved, often a line answering the question two turns before it ("What genre is it?" … the reply … "A mix of
 * drama and romance!"): a neighbour radius 1 → 2 took @4k 84.3 → 85.3 (multi-hop 50.7) and @2k 78.3 → 79.2, every
 * conversation level or up. Lifting what was said on the day a question names (`dateWeight` 0 → 1) took @4k
 * 84.3 → 84.5 alone. Not kept: names out of the lexical query (83.7), diversity lambda 0.7 (83.8) or 0.9 (84.5, no
 * better than the lift), neighbour weight 0.7 (84.7).
 */
export const DEFAULT_RANKING: RankingWeights = {
  neighbourRadius: 2,
  neighbourWeight: 0.5,
  diversityLambda: 0.8,
  sessionWeight: 0.3,
  speakerWeight: 2,
  dateWeight: 1,
  factSourceWeight: 0.9,
  fusion: 'score',
};

export interface ScoredSeq {
  seq: number;
  score: number;
}

export interface ExpandOptions {
  /** Turns on each side of a hit. */
  radius: number;
  /** A neighbour's score as a share of its hit's. */
  neighbourWeight: number;
  /** Sequence numbers that cannot be candidates (already in context, or past the last message). */
  exclude: (seq: number) => boolean;
}

/** Hits and their neighbours, best first; a sequence number appears once, at its best score. */
export function expandNeighbours(hits: ScoredSeq[], opts: ExpandOptions): (ScoredSeq & { hit: boolean })[] {
  const own = new Map(hits.map((h) => [h.seq, h.score]));
  const out = new Map<number, ScoredSeq & { hit: boolean }>();
  const offer = (seq: number, score: number, hit: boolean) => {
    if (seq < 1 || opts.exclude(seq)) return;
    const prev = out.get(seq);
    if (!prev || prev.score < score) out.set(seq, { seq, score, hit: hit || (prev?.hit ?? false) });
  };
  for (const h of hits) {
    let near = 0;
    for (let d = 1; d <= opts.radius; d++) near += (own.get(h.seq - d) ?? 0) + (own.get(h.seq + d) ?? 0);
    offer(h.seq, h.score + (opts.neighbourWeight / 2) * near, true);
    for (let d = 1; d <= opts.radius; d++) {
      const s = (h.score * opts.neighbourWeight) / d;
      offer(h.seq - d, s, false);
      offer(h.seq + d, s, false);
    }
  }
  return [...out.values()].sort((a, b) => b.score - a.score || a.seq - b.seq);
}

export const words = (text: string): Set<string> =>
  new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length > 2));

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

/**
 * Reorders candidates by maximal marginal relevance: `lambda · score/maxScore − (1 − lambda) · max overlap with the
 * picks so far`. `lambda` 1 keeps the score order.
 */
export function diversify<T>(items: T[], score: (t: T) => number, text: (t: T) => string, lambda: number): T[] {
  if (items.length < 3 || lambda >= 1) return [...items];
  const max = Math.max(...items.map(score)) || 1;
  const rest = items.map((item) => ({ item, rel: score(item) / max, terms: words(text(item)), overlap: 0 }));
  const picked: T[] = [];
  while (rest.length > 0) {
    let best = 0;
    let bestValue = -Infinity;
    rest.forEach((r, i) => {
      const v = lambda * r.rel - (1 - lambda) * r.overlap;
      if (v > bestValue) {
        best = i;
        bestValue = v;
      }
    });
    const [chosen] = rest.splice(best, 1);
    picked.push(chosen!.item);
    for (const r of rest) r.overlap = Math.max(r.overlap, jaccard(r.terms, chosen!.terms));
  }
  return picked;
}

/**
 * Session smoothing: each candidate's score grows by `weight` × (the other hits' scores in its session ÷ the
 * largest session's hit scores). Neighbours (`hit: false`) gain from their session's hits but add nothing.
 */
export function smoothBySession<T extends { score: number; hit: boolean }>(
  items: T[],
  session: (item: T) => string,
  weight: number,
): T[] {
  if (weight <= 0) return items;
  const mass = new Map<string, number>();
  for (const i of items) if (i.hit) mass.set(session(i), (mass.get(session(i)) ?? 0) + i.score);
  const max = Math.max(0, ...mass.values());
  if (max === 0) return items;
  return items.map((i) => {
    const others = (mass.get(session(i)) ?? 0) - (i.hit ? i.score : 0);
    return { ...i, score: i.score * (1 + (weight * others) / max) };
  });
}

/**
 * The roles a question names by their participant's name (whole words, any case). Only a question naming
 * exactly one side says whose words it is after; naming both says nothing.
 */
export function namedRole(
  query: string,
  names: { user?: string | undefined; assistant?: string | undefined },
): 'user' | 'assistant' | undefined {
  const said = words(query);
  const mentions = (name: string | undefined) => {
    const nameWords = name ? [...words(name)] : [];
    return nameWords.length > 0 && nameWords.every((w) => said.has(w));
  };
  const user = mentions(names.user);
  const assistant = mentions(names.assistant);
  return user === assistant ? undefined : user ? 'user' : 'assistant';
}

/** Month names in calendar order (index + 1 is the month's number). */
export const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

/** A day (`2022-11-09`) or a month (`2022-09`, or `-05` with no year) a question names. */
export type NamedDate = { day: string; month?: undefined } | { month: string; day?: undefined };

/**
 * Days and months a question names, as prefixes of ISO dates (`2022-11-09`, `2022-09`, or `-05` for a month with no
 * year, matched against the month part): "9 November, 2022", "November 9, 2022", "September 2022", "in May".
 * "May" alone is a month only after "in", "of" or "during" (it is also a verb).
 */
export function namedDates(query: string): NamedDate[] {
  const out: NamedDate[] = [];
  const m = MONTHS.join('|');
  const pad = (n: string | number) => String(n).padStart(2, '0');
  const month = (name: string) => pad(MONTHS.indexOf(name.toLowerCase()) + 1);
  const text = query.toLowerCase();
  const spans: [number, number][] = [];
  const take = (re: RegExp, build: (g: RegExpExecArray) => NamedDate) => {
    for (const g of text.matchAll(re)) {
      if (spans.some(([a, b]) => g.index < b && g.index + g[0].length > a)) continue;
      spans.push([g.index, g.index + g[0].length]);
      out.push(build(g));
    }
  };
  take(new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)? (${m}),? (\\d{4})\\b`, 'g'), (g) => ({
    day: `${g[3]}-${month(g[2]!)}-${pad(g[1]!)}`,
  }));
  take(new RegExp(`\\b(${m}) (\\d{1,2})(?:st|nd|rd|th)?,? (\\d{4})\\b`, 'g'), (g) => ({
    day: `${g[3]}-${month(g[1]!)}-${pad(g[2]!)}`,
  }));
  take(new RegExp(`\\b(${m}),? (\\d{4})\\b`, 'g'), (g) => ({ month: `${g[2]}-${month(g[1]!)}` }));
  take(new RegExp(`\\b(?:in|of|during) (${m})\\b`, 'g'), (g) => ({ month: `-${month(g[1]!)}` }));
  return out;
}

/** Whether an ISO day (`2022-11-09`) falls on one of the named dates. */
export function onNamedDate(day: string, dates: NamedDate[]): boolean {
  return dates.some((d) =>
    d.day ? day === d.day : d.month!.startsWith('-') ? day.slice(4, 7) === d.month : day.startsWith(d.month!),
  );
}
