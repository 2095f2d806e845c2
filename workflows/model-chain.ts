/**
 * The model fallback chain. Each model gets an attempt budget (Temporal retries, honouring `retry-after`); when it
 * is spent, or the failure says the model cannot serve us, the chain moves on. A request the API rejects outright
 * would fail on every model, so it ends the chain at once. The whole chain is bounded by the turn deadline; when
 * nothing answered, the caller sends a degraded reply.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { GeneratedReply, GenerateReplyCall, StoreHere } from '../activities/generate-reply';
import { ModelFailure, REQUEST_REJECTED, STORAGE_UNAVAILABLE } from '../src/model/failure-types';
import type { ContextRef } from '../activities/turn-context';
import { FailureTypes, fullUsage, type ConversationPolicy } from './contract';
import { MODEL_CALL_HANDOVER_PATCH, replyLocalFirst } from './reply-handover';

export interface ChainStep {
  model: string;
  failure: string;
}

export type ChainResult =
  | { ok: true; reply: GeneratedReply; steps: ChainStep[] }
  /** `context`: the turn's context, when a call that ran the context step got that far. */
  | { ok: false; steps: ChainStep[]; context?: ContextRef };

export interface ChainRequest {
  tenantId: string;
  conversationId: string;
  messageId: string;
  turn: number;
  /**
   * The user's message as sent: the model's copy is rebuilt from it, since the stored manifest holds only its
   * stored (redacted, sealed) form.
   */
  content?: string;
  /** The conversation's tools (tool loop only; absent otherwise, so requests stay as they were). */
  tools?: string[];
  /** Model step within the turn's tool loop. */
  step?: number;
  /** The model call stores the turn (workflows/turn.ts, PERSIST_IN_MODEL_CALL_PATCH); a fallback call adds the steps. */
  persist?: StoreHere;
  /** The calls run the turn's context step (workflows/turn.ts, CONTEXT_IN_MODEL_CALL_PATCH): once, in the first. */
  assemble?: true;
}

/**
 * Failures of the turn's context step, not of a model: the turn fails with them (no other model, no degraded reply).
 * Only a call that runs the context step (or stores the turn: a missing conversation) can throw them.
 */
const TURN_REFUSALS: readonly string[] = [
  FailureTypes.conversationNotFound,
  FailureTypes.messageIdConflict,
  ModelFailure.budgetExceeded,
];

/** Below this much time left, another model would only time out. */
const MIN_USEFUL_MS = 1_000;
const STORAGE_RETRY_PAUSE_MS = 2_000;
/**
 * A worker killed mid-call is noticed this long after its last heartbeat. Workers send heartbeats every second
 * (`maxHeartbeatThrottleInterval`, src/runtime/worker.ts), so 3 s leaves two of them to be late before a live call
 * is taken for dead; it was 5 s, most of a killed turn's recovery.
 */
const MODEL_HEARTBEAT_TIMEOUT = '3s';
const { generateReply } = proxyActivities<Activities>({ startToCloseTimeout: '60s' });
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '60s' });

/**
 * Runs with this marker may call the model of a turn without tools as a local activity, when their policy says
 * `modelCall: 'local'`: the workflow task that accepts the message runs the call and completes the update, so a
 * turn is one workflow task, not two, and no activity task (docs/operations.md, "Model call: activity or local").
 * Without MODEL_CALL_HANDOVER_PATCH the task stays open while the model answers, and the SDK heartbeats it every
 * 2.4 s (80 % of its 3 s timeout); with it, a call past 1.5 s is handed over to an activity (workflows/reply-handover.ts).
 * A dead worker is noticed by the workflow task timeout, and the next worker runs the call again from the start
 * (at least once, like an activity attempt; the call finds a turn already stored).
 */
export const LOCAL_MODEL_CALL_PATCH = 'model-call-local';

export async function replyWithFallback(req: ChainRequest, policy: ConversationPolicy): Promise<ChainResult> {
  const deadline = Date.now() + policy.turnDeadlineMs;
  // Only the one-call turn (it assembles its context); asked before the chain's first await, so the marker lands in
  // the workflow task that schedules the call.
  const inTask = policy.modelCall === 'local' && req.assemble === true && patched(LOCAL_MODEL_CALL_PATCH);
  // A long local call is handed over to an activity (workflows/reply-handover.ts); runs before this marker keep it.
  const handOver = inTask && patched(MODEL_CALL_HANDOVER_PATCH);
  const steps: ChainStep[] = [];
  let calls = 0;
  let context: ContextRef | undefined;
  for (let i = 0; i < policy.models.length;) {
    const model = policy.models[i]!;
    const remaining = deadline - Date.now();
    if (remaining < MIN_USEFUL_MS) {
      steps.push({ model, failure: 'TurnDeadlineExceeded' });
      break;
    }
    const why = steps.at(-1);
    try {
      const options = (left: number) => ({
        startToCloseTimeout: Math.min(policy.modelCallTimeoutMs, left),
        scheduleToCloseTimeout: left,
        retry: {
          maximumAttempts: policy.attemptsPerModel,
          initialInterval: '1s',
          backoffCoefficient: 2,
          maximumInterval: '60s',
        },
        summary: `${req.assemble ? 'context + reply' : 'reply'} · ${model} · turn ${req.turn}${req.step ? ` · step ${req.step + 1}` : ''}${why ? ` · fallback after ${why.model} ${why.failure}` : ''}`,
        // generateReply heartbeats every second: a worker that dies mid-call is noticed within seconds and the
        // attempt retried on a live one.
        heartbeatTimeout: MODEL_HEARTBEAT_TIMEOUT,
      });
      const input = callInput(req, model, steps, calls++);
      const { heartbeatTimeout: _local, ...inWorker } = options(remaining);
      const reply = handOver
        ? await replyLocalFirst(input, inWorker, () => options(Math.max(1, deadline - Date.now())))
        : inTask
          ? // Backoffs under localRetryThreshold (1 min) wait in the worker, longer ones (a retry-after) as a timer.
            await local.generateReply.executeWithOptions(inWorker, [input])
          : await generateReply.executeWithOptions(options(remaining), [input]);
      const usage = fullUsage(reply.usage);
      return { ok: true, reply: { ...reply, usage, model: reply.model ?? model, attempt: reply.attempt ?? 1 }, steps };
    } catch (err) {
      const failure = failureType(err);
      context = contextOf(err) ?? context;
      if (failure === STORAGE_UNAVAILABLE) {
        // The database failed, not the model: the same model again when it may be back, within the deadline.
        log.warn('database unreachable during a reply attempt; trying the same model again', { model, turn: req.turn });
        await sleep(STORAGE_RETRY_PAUSE_MS);
        continue;
      }
      // The conversation is gone (a call that stores the turn finds out), or the context step refused the turn: no
      // other model would do better, and the turn must fail with that refusal rather than be answered degraded.
      if (TURN_REFUSALS.includes(failure)) throw err;
      i++;
      steps.push({ model, failure });
      log.warn('model chain moving on', { model, failure, turn: req.turn });
      if (REQUEST_REJECTED.includes(failure)) break;
    }
  }
  return { ok: false, steps, ...(context ? { context } : {}) };
}

/**
 * A call that stores the turn names no tenant or conversation (the workflow id does) and carries the steps the
 * chain moved past; other calls are as they always were.
 */
function callInput(req: ChainRequest, model: string, steps: ChainStep[], earlierCalls: number): GenerateReplyCall {
  const { assemble, ...plain } = req; // absent unless the call also stores the turn (workflows/turn.ts)
  if (!req.persist) return { ...plain, model };
  const { tenantId: _t, conversationId: _c, ...call } = plain;
  return {
    ...call,
    model,
    ...(steps.length > 0 ? { persist: { ...req.persist, steps: [...steps] } } : {}),
    ...(assemble ? { assemble: earlierCalls === 0 ? ('first' as const) : ('again' as const) } : {}),
  };
}

/** The turn's context a failed call that ran the context step put in its failure's details. */
function contextOf(err: unknown): ContextRef | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  for (const d of cause.details ?? []) {
    if (typeof d === 'object' && d !== null && 'context' in d) return (d as { context: ContextRef }).context;
  }
  return undefined;
}

/** The stable type behind an activity failure: the ApplicationFailure type, or the kind of timeout. */
export function failureType(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return cause.type ?? 'Error';
  if (cause instanceof TimeoutFailure)
    return cause.timeoutType === 'SCHEDULE_TO_CLOSE' ? 'TurnDeadlineExceeded' : 'ModelTimeout';
  return 'Unknown';
}
