/** The summary request asks for what its token cap can hold, and a summary the cap cut off keeps whole sentences. */
import { completeSentences, summaryRequest, summaryWords } from '../../src/memory/prompts';

it('asks for a word count the token cap can hold', () => {
  const system = (maxTokens: number) => JSON.stringify(summaryRequest('m', null, [], maxTokens).system);
  expect(system(480)).toContain(`at most ${summaryWords(480)} words`);
  expect(summaryWords(480)).toBeLessThan(480 * 0.75);
  expect(system(120)).toContain(`at most ${summaryWords(120)} words`);
  expect(summaryWords(5)).toBe(20);
});

it('keeps the whole sentences of a summary cut off mid-sentence', () => {
  expect(completeSentences('Ana moved to Ghent. She keeps bees. Her hives are near the ca')).toBe(
    'Ana moved to Ghent. She keeps bees.',
  );
  expect(completeSentences('Ana moved to Ghent.\nShe asked wh')).toBe('Ana moved to Ghent.');
  expect(completeSentences('Did she move? Yes, in May 2023 to')).toBe('Did she move?');
});

it('leaves a summary that ends a sentence, or has none to keep, as it is', () => {
  expect(completeSentences('Ana moved to Ghent. She keeps bees.')).toBe('Ana moved to Ghent. She keeps bees.');
  expect(completeSentences('She said "I keep bees."')).toBe('She said "I keep bees."');
  expect(completeSentences('a fragment with no end')).toBe('a fragment with no end');
});
