/**
 * The recall gate: does the new message have anything worth recalling? Recalled memories sit after the last cache
 * breakpoint, so every token of them is billed at the full input price on every turn; a turn whose message finds
 * nothing of note in the conversation ("haha, nice", "thanks!") should cost only the cached prefix.
 *
 * The rule is one measurable signal against one threshold: the best BM25 score (PostgreSQL's, over the whole
 * conversation, see `src/memory/lexical.ts`) among the lexical hits that are not already in the context. BM25 sums
 * the rarity of the words the message shares with a past message, so greetings and small talk — common words the
 * conversation says all the time — score low, and a question naming a place, a person or an event said once long
 * ago scores high. The threshold (`MEMOIR_RECALL_GATE`) was tuned on the whole LoCoMo development split (all five
 * conversations; bench/README.md, "Recall gate"); 0 keeps the gate always open.
 *
 * Without lexical search (message text encrypted at rest) there is no signal, and the gate stays open.
 */

export interface GateSignal {
  /** Best BM25 score among lexical hits outside the context; 0 when there is none. */
  score: number;
  threshold: number;
  open: boolean;
}

/**
 * Applies the gate. `hits` are the lexical hits with their BM25 scores; `inContext` says whether a hit is already
 * in front of the model (the window, the archive) — those would add nothing if recalled.
 */
export function recallGate(
  hits: { seq: number; score: number }[] | undefined,
  inContext: (seq: number) => boolean,
  threshold: number,
): GateSignal {
  if (hits === undefined) return { score: 0, threshold, open: true };
  const score = hits.reduce((best, h) => (inContext(h.seq) ? best : Math.max(best, h.score)), 0);
  return { score: Math.round(score * 1000) / 1000, threshold, open: threshold <= 0 || score >= threshold };
}
