/**
 * Chunking: long texts become overlapping chunks within the token budget, cut at sentence ends where possible.
 */
import fc from 'fast-check';
import { chunkText, messageChunks } from '../../src/memory/chunk';

const sentence = (i: number) => `Sentence number ${i} talks about topic ${i} in a few more words.`;
const longText = Array.from({ length: 60 }, (_, i) => sentence(i)).join(' ');

describe('chunkText', () => {
  it('keeps a short text as one chunk and a blank one as none', () => {
    expect(chunkText('  Hello there.  ')).toEqual([{ index: 0, text: 'Hello there.', start: 2, end: 14 }]);
    expect(chunkText(' \n\t ')).toEqual([]);
  });

  it('splits a long text into overlapping chunks within the budget', () => {
    const chunks = chunkText(longText, { maxTokens: 64, overlapTokens: 16 });
    expect(chunks.length).toBeGreaterThan(5);
    chunks.forEach((c, i) => {
      expect(c.index).toBe(i);
      expect(c.text.length).toBeLessThanOrEqual(64 * 4);
      expect(longText.slice(c.start, c.end)).toBe(c.text);
      if (i > 0) {
        const prev = chunks[i - 1]!;
        expect(c.start).toBeGreaterThan(prev.start);
        // Overlap: the chunk starts inside the previous one, so no text falls between them.
        expect(c.start).toBeLessThan(prev.end);
        expect(prev.end - c.start).toBeLessThanOrEqual(16 * 4);
      }
    });
    expect(chunks[0]!.start).toBe(0);
    expect(chunks.at(-1)!.end).toBe(longText.length);
  });

  it('prefers to end chunks at sentence ends and to start overlaps at sentence starts', () => {
    const chunks = chunkText(longText, { maxTokens: 64, overlapTokens: 20 });
    for (const c of chunks) {
      expect(c.text).toMatch(/^Sentence number/);
      expect(c.text).toMatch(/words\.$/);
    }
  });

  it('falls back to word boundaries, and cuts words longer than a chunk', () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    for (const c of chunkText(words, { maxTokens: 16, overlapTokens: 4 })) {
      expect(c.text.length).toBeLessThanOrEqual(64);
      expect(c.text).toMatch(/^w\d+( w\d+)*$/);
    }
    const blob = 'x'.repeat(1000);
    const pieces = chunkText(`see ${blob} end`, { maxTokens: 50, overlapTokens: 5 });
    expect(pieces.every((c) => c.text.length <= 200)).toBe(true);
    expect(pieces.map((c) => c.text).join('')).toContain('x'.repeat(200));
    expect(pieces.at(-1)!.text).toMatch(/end$/);
    const emoji = chunkText('😀'.repeat(100), { maxTokens: 5, overlapTokens: 1 });
    expect(emoji.every((c) => c.text.length <= 20 && /^(😀)+$/u.test(c.text))).toBe(true);
  });

  it('always stays within budget, covers every word and moves forward (property)', () => {
    const token = fc.oneof(
      fc.constantFrom('a', 'word', 'sentence.', 'end!', 'why?', '\n', 'x'.repeat(90)),
      fc.string({ minLength: 1, maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 300 }), fc.integer({ min: 4, max: 40 }), (tokens, maxTokens) => {
        const text = tokens.join(' ');
        const chunks = chunkText(text, { maxTokens, overlapTokens: Math.floor(maxTokens / 4) });
        const covered = new Array<boolean>(text.length).fill(false);
        chunks.forEach((c, i) => {
          expect(c.text.length).toBeLessThanOrEqual(maxTokens * 4);
          expect(text.slice(c.start, c.end)).toBe(c.text);
          if (i > 0) expect(c.start).toBeGreaterThan(chunks[i - 1]!.start);
          for (let j = c.start; j < c.end; j++) covered[j] = true;
        });
        for (let j = 0; j < text.length; j++) if (/\S/.test(text[j]!)) expect(covered[j]).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('makes records of a message: one per chunk, with stable ids', () => {
    const message = {
      tenantId: 't',
      conversationId: 'c',
      userId: 'u',
      messageId: 'm-1',
      seq: 7,
      content: longText,
      createdAt: new Date('2026-01-01T00:00:00Z'),
    };
    const records = messageChunks(message, { maxTokens: 64 });
    expect(records.length).toBeGreaterThan(1);
    expect(records[1]).toMatchObject({ id: 'c/message/m-1#1', kind: 'message', sourceId: 'm-1', seq: 7, chunk: 1 });
    expect(messageChunks(message, { maxTokens: 64 })).toEqual(records);
  });
});
