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
 * BM25 alone does not tell small talk from a question: on the LoCoMo feed a greeting that names the other person
 * ("Hey Mel! Good to see you!") scores as high as a question about an old trip, and three fed turns in four passed
 * the gate. So the threshold depends on what the message does. A message that asks something (a question mark, an
 * opening interrogative, a request to remember) needs the threshold; a statement — news, an opinion, thanks — needs
 * `STATEMENT_FACTOR` times it: it recalls only when it names something rare said long ago ("the kayak Albatross"),
 * which is when an old turn is worth paying for, and then gets half the top k. The manifest reports the threshold
 * that applied.
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
 * How much more strongly a statement must match an old message than a question must. On the realistic cost feed
 * (bench/suites/cost-realistic.ts, conv-42) a factor of 3 took the turns that recall from 266 of 328 to 137, and
 * left the recall of the conversation's questions (all of which ask) as a turn gets it unchanged (53.3 %).
 */
export const STATEMENT_FACTOR = 3;

/** Question marks of the scripts a user may write in (Latin, full-width, Arabic, Greek). */
const QUESTION_MARK = /[?？؟\u037e]/u;
/** An opening that asks, or a request to remember, in English: the language the summaries and prompts are in. */
const ASKING =
  /^\W*(?:what|when|where|who|whom|whose|which|why|how|do|does|did|is|are|was|were|can|could|would|will|should|have|has|had)\b|\b(?:remind|remember|recall|forgot|forget|last time|earlier|you (?:said|told|mentioned)|I (?:said|told|mentioned))\b/i;

/** Does the message ask something (and so may need an old turn), rather than state or acknowledge something? */
export function asksSomething(message: string): boolean {
  return QUESTION_MARK.test(message) || ASKING.test(message);
}

/**
 * How many recalled items a turn gets: its top k when the message asks something; half of them (at least one) for a
 * statement, which passed a higher threshold but asks for nothing — it is given the strongest matches only.
 */
export function turnTopK(topK: number, message: string): number {
  return asksSomething(message) ? topK : Math.max(1, Math.floor(topK / 2));
}

/**
 * Applies the gate. `hits` are the lexical hits with their BM25 scores; `inContext` says whether a hit is already
 * in front of the model (the window, the archive) — those would add nothing if recalled. `message` is the new
 * message: a statement needs `STATEMENT_FACTOR` times the threshold (absent: treated as asking).
 */
export function recallGate(
  hits: { seq: number; score: number }[] | undefined,
  inContext: (seq: number) => boolean,
  threshold: number,
  message?: string,
): GateSignal {
  const applied = message === undefined || asksSomething(message) ? threshold : threshold * STATEMENT_FACTOR;
  if (hits === undefined) return { score: 0, threshold: applied, open: true };
  const score = hits.reduce((best, h) => (inContext(h.seq) ? best : Math.max(best, h.score)), 0);
  return { score: Math.round(score * 1000) / 1000, threshold: applied, open: applied <= 0 || score >= applied };
}
