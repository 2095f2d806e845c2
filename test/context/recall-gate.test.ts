/**
 * The recall gate's rule on its own: a message that asks something needs the threshold, a statement needs
 * `STATEMENT_FACTOR` times it, hits already in context count for nothing, and 0 keeps the gate open.
 */
import { asksSomething, recallGate, STATEMENT_FACTOR, turnTopK } from '../../src/context/recall-gate';

describe('recall gate', () => {
  it.each([
    'When did Caroline go to the support group?',
    'what was the name of that kayak',
    'Did I tell you about Zadar',
    'Remind me of the ferry times.',
    'You said something about a harp last week.',
    '¿Cuándo fuimos a Zadar？',
  ])('reads %j as asking', (message) => expect(asksSomething(message)).toBe(true));

  it.each(['Thanks, that is nice.', 'Hey Mel! Good to see you!', 'I went hiking with my dog; it rained.'])(
    'reads %j as a statement',
    (message) => expect(asksSomething(message)).toBe(false),
  );

  it('asks a statement to match an old message STATEMENT_FACTOR times as strongly as a question', () => {
    const hits = [{ seq: 3, score: 6 }];
    const nothingInContext = () => false;
    expect(recallGate(hits, nothingInContext, 4, 'How was the kayak?')).toEqual({ score: 6, threshold: 4, open: true });
    expect(recallGate(hits, nothingInContext, 4, 'The kayak was nice.')).toEqual({
      score: 6,
      threshold: 4 * STATEMENT_FACTOR,
      open: false,
    });
    expect(recallGate([{ seq: 3, score: 4 * STATEMENT_FACTOR }], nothingInContext, 4, 'The kayak was nice.').open).toBe(
      true,
    );
  });

  it('ignores hits already in context, and stays open at threshold 0 or without a lexical signal', () => {
    const hits = [
      { seq: 3, score: 20 },
      { seq: 9, score: 1 },
    ];
    expect(recallGate(hits, (seq) => seq === 3, 4, 'How was the kayak?')).toMatchObject({ score: 1, open: false });
    expect(recallGate([], () => false, 0, 'Thanks!').open).toBe(true);
    expect(recallGate(undefined, () => false, 4, 'Thanks!').open).toBe(true);
  });

  it('gives a statement half the top k, at least one; a question all of it', () => {
    expect(turnTopK(5, 'When was the trip?')).toBe(5);
    expect(turnTopK(5, 'The trip was great.')).toBe(2);
    expect(turnTopK(1, 'The trip was great.')).toBe(1);
  });
});
