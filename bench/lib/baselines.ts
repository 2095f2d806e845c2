/**
 * The two reference ways to fill a context budget from a conversation's turns, computed on the same data as
 * Memoir: the last turns that fit, and BM25 over all turns (best first, until the next one would not fit). Each
 * turn is one line `[<session date>] <speaker>: <text>`, tokens counted as characters / 4.
 */
import { Bm25 } from './bm25';
import { budgetTokens, type LocomoConversation } from './locomo';

export interface BaselineContext {
  text: string;
  tokens: number;
}

export function turnDocs(conv: LocomoConversation): string[] {
  const dates = new Map(conv.sessions.map((s) => [s.n, s.dateTime]));
  return conv.turns.map((t) => `[${dates.get(t.session) ?? ''}] ${t.speaker}: ${t.text}`);
}

/** The longest tail of the conversation whose turns fit the budget. */
export function lastTurns(docs: readonly string[], budget: number): BaselineContext {
  let tokens = 0;
  let from = docs.length;
  while (from > 0 && tokens + budgetTokens(docs[from - 1]!) <= budget) tokens += budgetTokens(docs[--from]!);
  return { text: docs.slice(from).join('\n'), tokens };
}

/** Turns in BM25 order for the query, until the next one would overflow the budget. */
export function bm25Turns(index: Bm25, docs: readonly string[], query: string, budget: number): BaselineContext {
  const picked: string[] = [];
  let tokens = 0;
  for (const i of index.rank(query)) {
    const t = budgetTokens(docs[i]!);
    if (tokens + t > budget) break;
    tokens += t;
    picked.push(docs[i]!);
  }
  return { text: picked.join('\n'), tokens };
}

export { Bm25 };
