/**
 * Reciprocal rank fusion and max-normalised score fusion over known lists.
 */
import { normalisedScoreFusion, reciprocalRankFusion, semanticFusionWeight } from '../../src/memory/fusion';

const key = (s: string) => s;

describe('reciprocalRankFusion', () => {
  it('ranks items found high in several lists first', () => {
    const vector = ['a', 'b', 'c', 'd'];
    const lexical = ['c', 'e', 'a'];
    const fused = reciprocalRankFusion([vector, lexical], { key });
    // a: 1/61 + 1/63, c: 1/63 + 1/61 (tie: both best rank 1; key order), b: 1/62, e: 1/62 (tie: key), d: 1/64.
    expect(fused.map((f) => f.key)).toEqual(['a', 'c', 'b', 'e', 'd']);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 63, 12);
    expect(fused[0]!.ranks).toEqual([1, 3]);
    expect(fused.find((f) => f.key === 'e')!.ranks).toEqual([null, 2]);
  });

  it('uses k and list weights, and limits the result', () => {
    const fused = reciprocalRankFusion([{ items: ['x', 'y'] }, { items: ['y', 'x'], weight: 2 }], { key, k: 1 });
    // x: 1/2 + 2/3, y: 1/3 + 2/2.
    expect(fused.map((f) => [f.key, Number(f.score.toFixed(4))])).toEqual([
      ['y', 1.3333],
      ['x', 1.1667],
    ]);
    expect(reciprocalRankFusion([['a', 'b', 'c']], { key, limit: 2 }).map((f) => f.key)).toEqual(['a', 'b']);
  });

  it('keeps the first occurrence of an item and counts a repeat in one list once', () => {
    const fused = reciprocalRankFusion(
      [
        [
          { id: '1', from: 'first' },
          { id: '1', from: 'again' },
        ],
        [{ id: '1', from: 'second' }],
      ],
      { key: (o) => o.id },
    );
    expect(fused).toHaveLength(1);
    expect(fused[0]!.item.from).toBe('first');
    expect(fused[0]!.score).toBeCloseTo(2 / 61, 12);
  });

  it('fuses nothing into nothing', () => {
    expect(reciprocalRankFusion<string>([[], []], { key })).toEqual([]);
  });
});

describe('semanticFusionWeight', () => {
  it('never lets the hash embedder push a lexical hit down, and counts a neural embedder in full', () => {
    const lexical = Array.from({ length: 60 }, (_, i) => `lex${i}`);
    const semantic = ['hash0', 'hash1', 'lex59', 'hash2'];
    const weight = semanticFusionWeight('local-hash-v1-256');
    const fused = reciprocalRankFusion([{ items: lexical }, { items: semantic, weight }], { key });
    // Every lexical hit stays ahead of what only the hash embedder found (agreement may lift one a little).
    expect(
      fused
        .slice(0, 60)
        .map((f) => f.key)
        .sort(),
    ).toEqual([...lexical].sort());
    expect(fused[0]!.key).toBe('lex0');
    expect(fused.slice(60).map((f) => f.key)).toEqual(['hash0', 'hash1', 'hash2']);
    expect(semanticFusionWeight('voyage-3.5-1024')).toBe(1);
    expect(semanticFusionWeight(undefined)).toBe(0);
  });
});

describe('normalisedScoreFusion', () => {
  type Hit = { id: string; score: number };
  const byId = (h: Hit) => h.id;
  const score = (h: Hit) => h.score;

  it('keeps how far apart the scores are, where rank fusion flattens them', () => {
    const lexical: Hit[] = [
      { id: 'strong', score: 10 },
      { id: 'weak', score: 2 },
    ];
    const fused = normalisedScoreFusion([{ items: lexical, score }], { key: byId });
    expect(fused.map((f) => [f.key, f.score])).toEqual([
      ['strong', 1],
      ['weak', 0.2],
    ]);
    // Rank fusion gives the weak hit nearly the strong one's score: a later lift of 2 would put it first.
    const rrf = reciprocalRankFusion([lexical], { key: byId });
    expect(rrf[1]!.score * 2).toBeGreaterThan(rrf[0]!.score);
  });

  it('sums weighted shares of each list’s best, clamps negative scores and skips a list with nothing positive', () => {
    const fused = normalisedScoreFusion<Hit>(
      [
        {
          items: [
            { id: 'a', score: 4 },
            { id: 'b', score: 2 },
          ],
          score,
        },
        {
          items: [
            { id: 'b', score: 0.8 },
            { id: 'c', score: -0.5 },
          ],
          score,
          weight: 0.5,
        },
        { items: [{ id: 'd', score: 0 }], score },
      ],
      { key: byId },
    );
    expect(fused.map((f) => [f.key, f.score])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 0],
    ]);
    expect(fused.find((f) => f.key === 'b')!.ranks).toEqual([2, 1, null]);
  });
});
