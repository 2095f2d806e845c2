/** The pure steps of recall ranking that read the question: the dates it names, and neighbour expansion. */
import { expandNeighbours, namedDates, onNamedDate } from '../../src/context/recall-ranking';

describe('namedDates', () => {
  it('reads a day written either way round, with or without an ordinal', () => {
    expect(namedDates('What dish did Nate make on 9 November, 2022?')).toEqual([{ day: '2022-11-09' }]);
    expect(namedDates('What happened on May 3rd, 2023?')).toEqual([{ day: '2023-05-03' }]);
  });

  it('reads a month with a year, and one without only where "May" cannot be the verb', () => {
    expect(namedDates('Was the first half of September 2022 a good month?')).toEqual([{ month: '2022-09' }]);
    expect(namedDates('Which outdoor spot did Joanna visit in May?')).toEqual([{ month: '-05' }]);
    expect(namedDates('May I ask what you cooked?')).toEqual([]);
  });

  it('matches a message day against what was named', () => {
    expect(onNamedDate('2022-11-09', namedDates('on 9 November, 2022'))).toBe(true);
    expect(onNamedDate('2022-11-10', namedDates('on 9 November, 2022'))).toBe(false);
    expect(onNamedDate('2023-05-28', namedDates('in May'))).toBe(true);
    expect(onNamedDate('2022-09-14', namedDates('September 2022'))).toBe(true);
    expect(onNamedDate('2023-09-14', namedDates('September 2022'))).toBe(false);
  });
});

describe('expandNeighbours', () => {
  it('brings turns within the radius at a share of the hit that falls with distance', () => {
    const out = expandNeighbours([{ seq: 10, score: 1 }], { radius: 2, neighbourWeight: 0.5, exclude: () => false });
    expect(Object.fromEntries(out.map((e) => [e.seq, e.score]))).toEqual({ 8: 0.25, 9: 0.5, 10: 1, 11: 0.5, 12: 0.25 });
    expect(out.filter((e) => e.hit).map((e) => e.seq)).toEqual([10]);
  });

  it('keeps a neighbour at its best score and leaves out what is excluded', () => {
    const out = expandNeighbours(
      [
        { seq: 10, score: 1 },
        { seq: 13, score: 0.8 },
      ],
      { radius: 2, neighbourWeight: 0.5, exclude: (seq) => seq === 9 },
    );
    const score = new Map(out.map((e) => [e.seq, e.score]));
    expect(score.has(9)).toBe(false);
    // 11 is 1 from the first hit (0.5) and 2 from the second (0.2); 12 is 2 from the first (0.25), 1 from the second (0.4).
    expect(score.get(11)).toBe(0.5);
    expect(score.get(12)).toBe(0.4);
  });
});
