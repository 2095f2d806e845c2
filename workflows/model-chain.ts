/**
 * The model fallback chain. Each model gets an attempt budget (Temporal retries, honouring `retry-after`); when it
 * is spent, or the failure says the model cannot serve us, the chain moves on. A request the API rejects outright
 * would fail on every model, so it ends the chain at once. The whole chain is bounded by the turn deadline; when
 * nothing answered, the caller sends a degraded reply.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities, log, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { GeneratedReply, GenerateReplyCall, StoreHere } from '../activities/generate-reply';
import { REQUEST_REJECTED, STORAGE_UNAVAILABLE } from '../src/model/failure-types';
import { FailureTypes, fullUsage, type ConversationPolicy } from './contract';

export interface ChainStep {
  model: string;
  failure: string;
}

export type ChainResult = { ok: true; reply: GeneratedReply; steps: ChainStep[] } | { ok: false; steps: ChainStep[] };

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
}

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

export async function replyWithFallback(req: ChainRequest, policy: ConversationPolicy): Promise<ChainResult> {
  const deadline = Date.now() + policy.turnDeadlineMs;
  const steps: ChainStep[] = [];
  for (let i = 0; i < policy.models.length;) {
    const model = policy.models[i]!;
    const remaining = deadline - Date.now();
    if (remaining < MIN_USEFUL_MS) {
      steps.push({ model, failure: 'TurnDeadlineExceeded' });
      break;
    }
    const why = steps.at(-1);
    try {
      const reply = await generateReply.executeWithOptions(
        {
          startToCloseTimeout: Math.min(policy.modelCallTimeoutMs, remaining),
          scheduleToCloseTimeout: remaining,
          // generateReply heartbeats every second: a worker that dies mid-call is noticed within seconds and the
          // attempt retried on a live one.
          heartbeatTimeout: MODEL_HEARTBEAT_TIMEOUT,
          retry: {
            maximumAttempts: policy.attemptsPerModel,
            initialInterval: '1s',
            backoffCoefficient: 2,
            maximumInterval: '60s',
          },
          summary: `reply · ${model} · turn ${req.turn}${req.step ? ` · step ${req.step + 1}` : ''}${why ? ` · fallback after ${why.model} ${why.failure}` : ''}`,
        },
        [callInput(req, model, steps)],
      );
      const usage = fullUsage(reply.usage);
      return { ok: true, reply: { ...reply, usage, model: reply.model ?? model, attempt: reply.attempt ?? 1 }, steps };
    } catch (err) {
      const failure = failureType(err);
      if (failure === STORAGE_UNAVAILABLE) {
        // The database failed, not the model: the same model again when it may be back, within the deadline.
        log.warn('database unreachable during a reply attempt; trying the same model again', { model, turn: req.turn });
        await sleep(STORAGE_RETRY_PAUSE_MS);
        continue;
      }
      // The conversation is gone (a call that stores the turn finds out): no other model would do better.
      if (failure === FailureTypes.conversationNotFound) throw err;
      i++;
      steps.push({ model, failure });
      log.warn('model chain moving on', { model, failure, turn: req.turn });
      if (REQUEST_REJECTED.includes(failure)) break;
    }
  }
  return { ok: false, steps };
}

/**
 * A call that stores the turn names no tenant or conversation (the workflow id does) and carries the steps the
 * chain moved past; other calls are as they always were.
 */
function callInput(req: ChainRequest, model: string, steps: ChainStep[]): GenerateReplyCall {
  if (!req.persist) return { ...req, model };
  const { tenantId: _t, conversationId: _c, ...call } = req;
  return { ...call, model, ...(steps.length > 0 ? { persist: { ...req.persist, steps: [...steps] } } : {}) };
}

/** The stable type behind an activity failure: the ApplicationFailure type, or the kind of timeout. */
export function failureType(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return cause.type ?? 'Error';
  if (cause instanceof TimeoutFailure)
    return cause.timeoutType === 'SCHEDULE_TO_CLOSE' ? 'TurnDeadlineExceeded' : 'ModelTimeout';
  return 'Unknown';
}
