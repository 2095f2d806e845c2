/**
 * Load generation, always bounded in count and in time: closed loops of concurrent lanes, and one Memoir turn
 * timed from the client (the round trip over loopback to the API and back).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { HttpAnswer, HttpCall } from './http';
import { marked, type BenchModel } from './offline';
import type { BenchStack } from './stack';

export interface LoopOptions {
  concurrency: number;
  /** Stop after this many tasks have been started (default: no count bound, then durationMs is required). */
  total?: number;
  /** Stop starting tasks after this long. */
  durationMs?: number;
  /** Hard bound: tasks still running after this are abandoned and the loop returns. */
  maxMs: number;
}

export interface LoopResult<T> {
  results: T[];
  errors: string[];
  elapsedMs: number;
}

/** Runs `task(lane, index)` in `concurrency` lanes until `total` tasks or `durationMs` have passed. */
export async function closedLoop<T>(opts: LoopOptions, task: (lane: number, i: number) => Promise<T>) {
  if (opts.total === undefined && opts.durationMs === undefined) throw new Error('closedLoop needs a bound');
  const started = performance.now();
  const deadline = started + Math.min(opts.durationMs ?? Infinity, opts.maxMs);
  const results: T[] = [];
  const errors: string[] = [];
  let next = 0;
  const lane = async (l: number) => {
    while (performance.now() < deadline && (opts.total === undefined || next < opts.total)) {
      const i = next++;
      try {
        results.push(await task(l, i));
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
        if (errors.length > 50) return;
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.maxMs + 30_000)));
  await Promise.race([Promise.all(Array.from({ length: opts.concurrency }, (_, l) => lane(l))), hardStop]);
  clearTimeout(timer);
  return { results, errors, elapsedMs: performance.now() - started } satisfies LoopResult<T>;
}

/** How the load generator sends a turn: through the HTTP API, or the in-process `MemoirClient` (no HTTP hop). */
export type Transport = 'http' | 'client';
export const TRANSPORT_LABEL: Record<Transport, string> = { client: 'in-process client', http: 'HTTP API' };

export interface TimedTurn {
  conversationId: string;
  messageId: string;
  /** Client-side round trip, ms. */
  totalMs: number;
  /** The model's own time for this turn (server side of the offline model), ms. */
  modelMs: number;
  overheadMs: number;
  /** How many times the API answered 503 with Retry-After and the same message was sent again. */
  retries: number;
  usage: {
    inputTokens: number;
    outputTokens: number;
    cacheReadTokens: number;
    cacheWriteTokens: number;
    costUsd: number;
  };
}

/** The model Memoir answers with: the first of its chain. */
export const REPLY_MODEL = process.env.MEMOIR_MODELS?.split(',')[0]?.trim() || 'claude-sonnet-5-5';

let counter = 0;
/** A message id that is unique in this process and doubles as the model-time marker. */
export const nextMessageId = (prefix = 'b') =>
  // Fixed width: the same conversation sent twice must weigh the same number of tokens.
  `${prefix}${process.pid.toString(36)}-${(counter++).toString(36).padStart(6, '0')}`;

/**
 * Sends one message and waits for the reply. With `reply`, the offline model is scripted to answer exactly that
 * (a rule for this message only, so concurrent turns never take each other's reply).
 */
export async function sendTurn(
  stack: BenchStack,
  model: BenchModel,
  conversationId: string,
  text: string,
  reply?: string,
  opts: { mark?: boolean; sentAt?: string | undefined; via?: Transport } = {},
): Promise<TimedTurn> {
  const messageId = nextMessageId();
  // Unmarked messages (LoCoMo's real lines) are matched by their text; they are sent one at a time.
  const mark = opts.mark ?? true;
  const content = mark ? marked(messageId, text) : text;
  if (reply !== undefined) {
    const match = mark ? `[#${messageId}]` : text;
    // Only the reply model: summaries and fact extraction (another model) must not take a turn's reply.
    await model.script([
      { action: { kind: 'reply', text: reply }, times: 1, lastUserContains: match, model: REPLY_MODEL },
    ]);
  }
  // A turn's figures: its round trip, less the model's own time for it (measured on the model server).
  const timed = (ms: number, retries: number, usage: TimedTurn['usage']): TimedTurn => {
    const modelMs = model.modelMs(messageId);
    return { conversationId, messageId, totalMs: ms, modelMs, overheadMs: ms - modelMs, retries, usage };
  };
  if (opts.via === 'client') {
    if (opts.sentAt) throw new Error('sentAt is only sent through the HTTP API in the benchmark');
    const { result, ms } = await stack.inProcess(conversationId, content, messageId);
    return timed(ms, 0, result.usage);
  }
  const body = { content, messageId, ...(opts.sentAt ? { sentAt: opts.sentAt } : {}) };
  const { answer, retries, ms } = await postTurn(stack.http, conversationId, body);
  return timed(ms, retries, answer.body.usage);
}

/**
 * Most times one message is sent again after a 503, and the longest a turn keeps retrying: past either, the turn
 * counts as failed. On a starved machine a conversation's workflow task can fail for tens of seconds (a 3 s task
 * timeout, then the server's backoff up to 5 s, each attempt starved again): a quick run at load ~19 saw 5 retries
 * 2 s apart all refused.
 */
export const UNAVAILABLE_RETRIES = 30;
export const UNAVAILABLE_RETRY_BUDGET_MS = 60_000;

/**
 * Posts one message and returns the 200 answer. A 503 with Retry-After is a legitimate answer under load (the
 * workflow's task is being retried, a connection dropped): as the API documents, the client waits it out and sends
 * the same message again with the same messageId, which the server de-duplicates. Anything else fails the turn.
 * `ms` is the whole time the caller waited, retries included.
 */
export async function postTurn(
  http: HttpCall,
  conversationId: string,
  body: { content: string; messageId: string; sentAt?: string },
  maxRetries = UNAVAILABLE_RETRIES,
): Promise<{ answer: HttpAnswer; retries: number; ms: number }> {
  const t0 = performance.now();
  for (let retries = 0; ; retries++) {
    const answer = await http('POST', `/v1/conversations/${conversationId}/messages`, body);
    const waitMs = (answer.retryAfterS ?? 0) * 1000;
    const inBudget = performance.now() + waitMs - t0 < UNAVAILABLE_RETRY_BUDGET_MS;
    if (answer.status === 503 && answer.retryAfterS !== undefined && retries < maxRetries && inBudget) {
      await delay(waitMs);
      continue;
    }
    if (answer.status !== 200)
      throw new Error(
        `turn failed: ${answer.status} ${JSON.stringify(answer.body)}${retries ? ` (after ${retries} retries)` : ''}`,
      );
    return { answer, retries, ms: performance.now() - t0 };
  }
}

/** Creates a conversation; returns its id. */
export async function createConversation(
  stack: BenchStack,
  conversationId: string,
  systemPrompt?: string,
  participants?: { user: string; assistant: string },
) {
  const res = await stack.http('POST', '/v1/conversations', {
    conversationId,
    userId: 'bench',
    ...(systemPrompt ? { systemPrompt } : {}),
    ...(participants ? { participants } : {}),
  });
  if (res.status !== 201)
    throw new Error(`could not create ${conversationId}: ${res.status} ${JSON.stringify(res.body)}`);
  return conversationId;
}
