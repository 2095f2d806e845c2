/**
 * Okapi BM25 over short documents (here: a conversation's turns), k1 = 1.2, b = 0.75, with the non-negative
 * idf ln(1 + (N − n + 0.5) / (n + 0.5)). Terms: lower-cased runs of letters and digits.
 */

export const terms = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

export class Bm25 {
  private readonly tf: Map<string, number>[];
  private readonly len: number[];
  private readonly df = new Map<string, number>();
  private readonly avgLen: number;

  constructor(
    docs: readonly string[],
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {
    this.tf = docs.map((d) => {
      const m = new Map<string, number>();
      for (const t of terms(d)) m.set(t, (m.get(t) ?? 0) + 1);
      return m;
    });
    this.len = docs.map((d) => terms(d).length);
    for (const m of this.tf) for (const t of m.keys()) this.df.set(t, (this.df.get(t) ?? 0) + 1);
    this.avgLen = this.len.reduce((a, b) => a + b, 0) / Math.max(docs.length, 1);
  }

  idf(term: string): number {
    const n = this.df.get(term) ?? 0;
    return Math.log(1 + (this.tf.length - n + 0.5) / (n + 0.5));
  }

  score(query: string, doc: number): number {
    const tf = this.tf[doc]!;
    const norm = this.k1 * (1 - this.b + (this.b * this.len[doc]!) / (this.avgLen || 1));
    let s = 0;
    for (const t of new Set(terms(query))) {
      const f = tf.get(t);
      if (f) s += this.idf(t) * ((f * (this.k1 + 1)) / (f + norm));
    }
    return s;
  }

  /** Document indexes by descending score (ties: earlier document first); documents scoring 0 are left out. */
  rank(query: string): number[] {
    return this.tf
      .map((_, i) => [i, this.score(query, i)] as const)
      .filter(([, s]) => s > 0)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([i]) => i);
  }
}
