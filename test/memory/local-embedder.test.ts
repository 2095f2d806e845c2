/**
 * The built-in lexical embedder: deterministic, unit-length, and good at exactly what feature hashing can be good
 * at — shared words, stems and spellings — and, stated as a test, blind to synonyms.
 */
import { LocalEmbedder, stem, tokenize } from '../../src/memory/embedders/local';

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('LocalEmbedder', () => {
  const embedder = new LocalEmbedder();
  const sim = async (a: string, b: string) => {
    const [va, vb] = await embedder.embed([a, b], 'document');
    return cosine(va!, vb!);
  };

  it('is deterministic across instances and calls, and ignores the query/document kind', async () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    const [a] = await embedder.embed([text], 'document');
    const [b] = await new LocalEmbedder().embed([text], 'query');
    expect(b).toEqual(a);
    expect(embedder.id).toBe('local-hash-v1-512');
    expect(a).toHaveLength(512);
  });

  it('returns unit vectors, even for text without a single word', async () => {
    const vectors = await embedder.embed(['hello', 'A much longer sentence, with punctuation!', '', '?!'], 'document');
    for (const v of vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 10);
    expect(await sim('', '?!')).toBeCloseTo(1, 10);
  });

  it('honours a configured dimension', async () => {
    const small = new LocalEmbedder({ dimensions: 64 });
    expect((await small.embed(['x y z'], 'query'))[0]).toHaveLength(64);
    expect(small.id).toBe('local-hash-v1-64');
    expect(() => new LocalEmbedder({ dimensions: 3 })).toThrow(/dimensions/);
  });

  it('scores related sentences above unrelated ones', async () => {
    const pairs: [string, string, string][] = [
      // [anchor, related, unrelated]
      [
        'How do I reset my password?',
        'I forgot my password and need to reset it',
        'The weather in Paris is sunny today',
      ],
      ['I booked a flight to Lisbon for May', 'My Lisbon flights are booked', 'Add two cups of flour to the bowl'],
      [
        'Our cat keeps scratching the sofa',
        'The cats scratched the new sofa again',
        'Quarterly revenue grew by 12 percent',
      ],
      [
        'Remind me to call the dentist tomorrow',
        'Calling the dentist is on tomorrow’s list',
        'The train leaves at noon',
      ],
      ['My daughter is allergic to peanuts', 'peanut allergy: my daughter', 'We painted the kitchen blue'],
    ];
    for (const [anchor, related, unrelated] of pairs) {
      const near = await sim(anchor, related);
      const far = await sim(anchor, unrelated);
      expect(near, `${anchor} ~ ${related}`).toBeGreaterThan(far + 0.2);
    }
  });

  it('tolerates inflections and small typos through stems and character 3-grams', async () => {
    expect(await sim('baking bread', 'she bakes bread')).toBeGreaterThan(0.6);
    expect(await sim('restaurant recommendation', 'restaurnat recomendation')).toBeGreaterThan(0.25);
    expect(await sim('restaurant recommendation', 'football results')).toBeLessThan(0.15);
  });

  it('is honest about its limits: synonyms without shared words are not related', async () => {
    // A neural model would put these close; feature hashing cannot, and nobody should rely on it doing so. Worse,
    // spelling beats meaning: "starving" is nearer "starting" than "very hungry".
    expect(await sim('automobile', 'car')).toBeLessThan(0.15);
    expect(await sim('I am starving', 'I am very hungry')).toBeLessThan(await sim('I am starving', 'I am starting'));
  });

  it('tokenizes and stems lightly', () => {
    expect(tokenize("Don't stop — Café déjà-vu 42x!")).toEqual(['dont', 'stop', 'cafe', 'deja', 'vu', '42x']);
    expect(['running', 'cities', 'boxes', 'baked', 'quickly', 'falling', 'is', 'bus'].map(stem)).toEqual([
      'run',
      'city',
      'box',
      'bak',
      'quick',
      'fall',
      'is',
      'bus',
    ]);
  });
});
