/**
 * Local first, handed over when long (MEMOIR_MODEL_CALL=local, patch `model-call-handover`): the local model call
 * that outlasts HAND_OVER_AFTER_MS keeps running in this worker process, and its local activity returns a hand-over
 * marker instead of the reply. The workflow then schedules a regular, heartbeating generateReply activity with the
 * marker (eager dispatch runs it on this worker), which adopts the call still running here and returns its result.
 * Where the call is not here (another worker took the task, this one restarted), the activity calls the model
 * afresh: the at-least-once path of any retried attempt (the turn found stored, a second call in the ledger).
 */
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { HEARTBEAT_EVERY_MS } from './model-call';

/**
 * The SDK heartbeats a workflow task kept open by a local activity at 80 % of its 3 s timeout (2.4 s), writing 3
 * history events each time, and the UI shows no pending activity meanwhile. Handing the call over at 1.5 s keeps
 * a fast turn in one workflow task and leaves 0.9 s of that task for the context step before the call starts and
 * for a loaded worker's delays, so a handed-over call writes no task heartbeat.
 */
export const HAND_OVER_AFTER_MS = 1_500;

/**
 * Calls handed over and still running, at most: more than the worker's 100 activity slots that adopt them. A call
 * past the bound is not handed over (it stays in its workflow task, as without the hand-over) rather than an
 * in-flight call being dropped from the registry.
 */
const MAX_HANDED_OVER = 256;

/**
 * How long a call that has settled waits for its adopter: the workflow task that schedules the adopter may still
 * be completing when a call ends just after its hand-over. The adopter then gets its result (or failure) instead of
 * calling afresh.
 */
const ADOPTION_GRACE_MS = 10_000;

/** What the local activity returns instead of the reply: where the call runs on, and the attempt it is. */
export interface HandedOver {
  handedOver: string;
  attempt: number;
}

export const isHandedOver = (r: object): r is HandedOver => 'handedOver' in r;

interface Kept<T> {
  settled: Promise<T>;
  abort: AbortController;
  adopted: boolean;
}

/** The worker process's calls handed over and still running, keyed by run, turn and a nonce of the attempt. */
export class HandedOverCalls<T> {
  private readonly calls = new Map<string, Kept<T>>();

  constructor(private readonly max = MAX_HANDED_OVER) {}

  get size(): number {
    return this.calls.size;
  }

  /**
   * Keeps the call, unless the registry is full (false). The entry goes ADOPTION_GRACE_MS after the call settles,
   * adopted or not: a call nobody adopts still finishes and stores its turn, and cannot leak.
   */
  keep(key: string, settled: Promise<T>, abort: AbortController): boolean {
    if (this.calls.size >= this.max || this.calls.has(key)) return false;
    this.calls.set(key, { settled, abort, adopted: false });
    const forget = () => void setTimeout(() => this.calls.delete(key), ADOPTION_GRACE_MS).unref();
    settled.then(forget, forget);
    return true;
  }

  /** The call for the one activity that adopts it; a second adopter (a retry) calls the model afresh. */
  adopt(key: string): Kept<T> | undefined {
    const kept = this.calls.get(key);
    if (!kept || kept.adopted) return undefined;
    kept.adopted = true;
    return kept;
  }
}

/** A nonce of its own per local attempt: a local call run again after a lost task is another call. */
export const newHandOverNonce = () => randomBytes(4).toString('hex');

/** The registry key: the workflow run (the adopter's is the same), the turn, and the attempt's nonce. */
export function handOverKey(turn: number, nonce: string): string {
  const { workflowExecution } = Context.current().info;
  return `${workflowExecution?.workflowId ?? ''}/${workflowExecution?.runId ?? ''}/${turn}/${nonce}`;
}

/**
 * Waits for the call: its result, or HAND_OVER_AFTER_MS passing first (`late`). The timer does not hold the
 * process.
 */
export async function raceHandOver<T>(call: Promise<T>): Promise<{ done: T } | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), HAND_OVER_AFTER_MS);
  });
  try {
    return await Promise.race([call.then((done) => ({ done })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The adopting activity's wait: it heartbeats every second like a call of its own (its heartbeat timeout notices a
 * dead worker), and its cancellation aborts the adopted call.
 */
export async function awaitAdopted<T>(kept: Kept<T>): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  const abort = () => kept.abort.abort(ctx.cancellationSignal.reason);
  ctx.cancellationSignal.addEventListener('abort', abort, { once: true });
  try {
    return await Promise.race([kept.settled, ctx.cancelled]);
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', abort);
  }
}
