/**
 * The clients of a fault scenario: each conversation is a lane that sends its turns one after another, each turn
 * with a fixed messageId that the client re-sends — the documented contract — until it gets the reply. Every
 * loop is bounded by a request count and a deadline. What the clients saw (replies, codes, latencies) is logged
 * for the verdict; whether anything was lost is decided later, by reconciliation against PostgreSQL.
 */
import type { Reply } from '../../workflows/contract';

export type SendResult =
  | { kind: 'reply'; reply: Reply }
  /** Accepted, not answered yet (504 `reply_pending`): re-send the same messageId for the reply. */
  | { kind: 'pending'; code: string }
  /** Not accepted; retry (after `retryAfterMs` when the answer said so). */
  | { kind: 'retry'; code: string; retryAfterMs?: number }
  | { kind: 'fatal'; code: string };

export type Sender = (conversationId: string, messageId: string, content: string) => Promise<SendResult>;

export interface TurnRecord {
  conversationId: string;
  messageId: string;
  /** Position in its conversation (0-based): the order it was sent in. */
  index: number;
  firstSentAt: number;
  repliedAt?: number;
  reply?: Reply;
  requests: number;
  /** The system acknowledged it (a reply or a 504 `reply_pending`). */
  accepted: boolean;
  fatal?: string;
}

/** Codes whose meaning the API documents as "try again" or "still working". */
const DOCUMENTED = new Set(['429 rate_limited', '503 conversation_busy', '503 unavailable', '504 reply_pending']);

export class TurnLog {
  readonly turns: TurnRecord[] = [];
  /** Client-visible answers other than a reply, by code (`429 rate_limited`, `500 internal`, `network`...). */
  readonly codes = new Map<string, number>();

  get answered(): number {
    return this.turns.filter((t) => t.reply).length;
  }

  count(code: string): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }

  /** Answers the API does not document as a normal outcome. */
  undocumented(): Record<string, number> {
    return Object.fromEntries([...this.codes].filter(([code]) => !DOCUMENTED.has(code)));
  }

  /** Client-side latency of every answered turn, first send to reply, ms. */
  latencies(): number[] {
    return this.turns.filter((t) => t.repliedAt !== undefined).map((t) => t.repliedAt! - t.firstSentAt);
  }
}

export interface TurnOptions {
  /** Absolute time (ms since epoch) after which the client stops re-sending. */
  deadline: number;
  maxRequests?: number;
  /** First back-off after a refusal (added to any Retry-After); doubles up to 8 s. */
  backoffMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends one turn until it is answered, given up as fatal, or out of requests or time. After a refusal it waits at
 * least what Retry-After asks, plus an exponential back-off with jitter: clients that all came back exactly on the
 * second would meet the same empty bucket again.
 */
export async function sendUntilAnswered(
  sender: Sender,
  log: TurnLog,
  turn: TurnRecord,
  content: string,
  opts: TurnOptions,
) {
  let backoff = opts.backoffMs ?? 500;
  while (Date.now() < opts.deadline && turn.requests < (opts.maxRequests ?? 500)) {
    turn.requests++;
    const r = await sender(turn.conversationId, turn.messageId, content);
    if (r.kind === 'reply') {
      turn.accepted = true;
      turn.reply = r.reply;
      turn.repliedAt = Date.now();
      return;
    }
    log.count(r.code);
    if (r.kind === 'fatal') {
      turn.fatal = r.code;
      return;
    }
    if (r.kind === 'pending') {
      turn.accepted = true;
      continue;
    }
    await sleep((r.retryAfterMs ?? 0) + backoff * (0.5 + Math.random() * 0.5));
    backoff = Math.min(backoff * 2, 8_000);
  }
}

/** The text of turn `i` of a conversation: varied, with details worth remembering (facts, compaction). */
export function turnContent(conversationId: string, i: number): string {
  const cities = ['Lisbon', 'Oslo', 'Kyoto', 'Quito', 'Hobart', 'Tunis', 'Riga'];
  return (
    `Turn ${i} of ${conversationId}: I am planning a trip to ${cities[i % cities.length]} ` +
    `with a budget of ${500 + 37 * i} euros and I prefer trains over planes. What should I pack?`
  );
}

export interface LanesOptions extends TurnOptions {
  /** Turns each lane sends; with `mayStop`, the most it sends. */
  turnsPerConversation: number;
  /**
   * Asked before each turn with the number the lane has sent: true ends the lane early. A scenario whose faults
   * must meet running turns keeps its lanes going with it until the last fault has happened.
   */
  mayStop?: (sent: number) => boolean;
  /** Index of each lane's first turn (a later phase of the same conversations continues the numbering). */
  startIndex?: number;
  /** Pause between the turns of one conversation, ms. */
  thinkMs?: number;
  /** No lane starts a new turn after this (ms since epoch); turns already sent still run to `deadline`. */
  stopStartingAt?: number;
  /** Awaited before each turn is sent: a scenario holds the clients back while its fault catches up. */
  beforeTurn?: () => Promise<unknown>;
}

/** One lane per conversation, all at once; each sends its turns in order. Resolves when every lane is done. */
export async function runLanes(sender: Sender, log: TurnLog, conversations: string[], opts: LanesOptions) {
  await Promise.all(
    conversations.map(async (conversationId) => {
      const first = opts.startIndex ?? 0;
      const stopAt = Math.min(opts.deadline, opts.stopStartingAt ?? Infinity);
      for (let i = first; i < first + opts.turnsPerConversation && Date.now() < stopAt; i++) {
        await opts.beforeTurn?.();
        if (opts.mayStop?.(i - first)) return;
        const turn: TurnRecord = {
          conversationId,
          messageId: `${conversationId}-m${i}`,
          index: i,
          firstSentAt: Date.now(),
          requests: 0,
          accepted: false,
        };
        log.turns.push(turn);
        await sendUntilAnswered(sender, log, turn, turnContent(conversationId, i), opts);
        if (!turn.reply) return; // order matters: the next turn of this conversation waits for this one
        if (opts.thinkMs) await sleep(opts.thinkMs);
      }
    }),
  );
}

/** Waits until `check()` holds, polling every 100 ms; false when `timeoutMs` passed first. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

export { sleep };
