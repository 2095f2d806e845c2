/**
 * Reciprocal rank fusion over known lists.
 */
import { reciprocalRankFusion } from '../../src/memory/fusion';

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
