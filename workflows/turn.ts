/**
 * One turn: assemble context (or find the stored answer to a repeated message), run the model chain, persist the
 * user message and reply together. A failure of the model never loses the user's message: it is stored with a
 * degraded reply.
 */
import { ApplicationFailure, patched, proxyActivities, proxyLocalActivities, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ZERO_USAGE,
  type ConversationPolicy,
  type QueuedMessage,
  type TurnContext,
  type TurnError,
  type TurnResult,
} from './contract';
import { persistSummary } from './details';
import type { ToolApprovals } from './approvals';
import { failureType, replyWithFallback, type ChainResult, type ChainStep } from './model-chain';
import { replyWithTools } from './tool-loop';

/** A conversation's tools and where its calls wait for approval; absent for a conversation without tools. */
export interface TurnTools {
  tools: string[];
  approvals: ToolApprovals;
}

/** Database activities wait out an outage: they retry until PostgreSQL is back, never failing the turn. */
const store = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Runs with this marker run the turn's database steps as local activities: the workflow task that accepts the
 * message assembles its context and schedules the model call, and the one after the reply persists it — no
 * activity task and no extra workflow task for either step. At least once, like the remote ones: after a worker
 * crash the workflow task times out and the next worker runs the unrecorded steps again (both are idempotent).
 */
export const LOCAL_TURN_STEPS_PATCH = 'turn-steps-local';

/**
 * Runs with this marker pass the message to the model call only when `loadContext` says the model's copy differs
 * from the manifest's (a message redacted for storage but not for the model): otherwise generateReply reads it
 * from the manifest and the message enters history once, in the update, not again in the activity's input.
 */
export const MESSAGE_BY_REFERENCE_PATCH = 'model-call-message-by-reference';

/**
 * Runs with this marker have the model call store the turn when it answers (a turn without tools whose message the
 * store policy left as it is): no persistTurn step, so no local activity marker (~500 B) and one history event
 * less per turn. The call looks for the turn stored before it calls the model, so an attempt after a crash that
 * followed the write answers from PostgreSQL. A degraded reply is still stored by persistTurn.
 */
export const PERSIST_IN_MODEL_CALL_PATCH = 'model-call-persists-turn';

/**
 * Runs with this marker run a turn without tools as one activity: the model call runs the context step (refusals,
 * a repeated message's stored answer, assembly and its manifest), calls the model and stores the turn. No
 * loadContext local activity, so one workflow activation and one marker (~470 B) less per turn. The context step
 * runs once per turn: the chain's first call assembles it, later attempts and fallback calls take its manifest.
 * Its refusals fail the turn with their own type, as loadContext's did (workflows/model-chain.ts, TURN_REFUSALS).
 */
export const CONTEXT_IN_MODEL_CALL_PATCH = 'model-call-loads-context';

/** The same retry as `store`: a database outage is waited out, within the workflow task (heartbeated by the SDK). */
const localStore = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export interface TurnScope {
  tenantId: string;
  conversationId: string;
}

export type TurnOutcome =
  | {
      ok: true;
      result: TurnResult;
      /** False when the message had been answered before (a repeated messageId): nothing new happened. */
      fresh: boolean;
      steps: ChainStep[];
      context: TurnContext | null;
      /** Activity attempt that produced the reply (1 when it answered first time). */
      attempt: number;
    }
  | { ok: false; error: TurnError };

export async function runTurn(
  scope: TurnScope,
  msg: QueuedMessage,
  turn: number,
  policy: ConversationPolicy,
  toolUse?: TurnTools,
): Promise<TurnOutcome> {
  const steps = patched(LOCAL_TURN_STEPS_PATCH) ? localStore : store;
  // Asked before the first await, like the patch above: asked after loadContext's result, the marker could land in
  // a later workflow task than the result's (when other events were buffered meanwhile), which replay refuses.
  const messageByReference = patched(MESSAGE_BY_REFERENCE_PATCH);
  const persistInCall = patched(PERSIST_IN_MODEL_CALL_PATCH);
  const contextInCall = !toolUse && patched(CONTEXT_IN_MODEL_CALL_PATCH);
  try {
    if (contextInCall) return await oneCallTurn(scope, msg, turn, policy);
    const loaded = await steps.loadContext.executeWithOptions(
      {
        startToCloseTimeout: '30s',
        retry: { initialInterval: '1s', maximumInterval: '30s' },
        summary: `context · turn ${turn}`,
      },
      [{ ...scope, messageId: msg.messageId, content: msg.content, turn }],
    );
    if (loaded.kind === 'answered') {
      return { ok: true, result: loaded.result, fresh: false, steps: [], context: null, attempt: 0 };
    }

    const passMessage = !messageByReference || loaded.modelNeedsMessage === true;
    const storeInCall = persistInCall && !toolUse && loaded.storeRedacted !== true;
    const request = {
      ...scope,
      messageId: msg.messageId,
      turn,
      ...(passMessage ? { content: msg.content } : {}),
      ...(storeInCall ? { persist: msg.sentAt !== undefined ? { sentAt: msg.sentAt } : {} } : {}),
    };
    const chain = toolUse
      ? await replyWithTools({ ...request, tools: toolUse.tools }, policy, toolUse.approvals)
      : await replyWithFallback(request, policy);
    const context = {
      tokens: loaded.contextTokens ?? sumOf(loaded.tierTokens),
      ...(loaded.tierTokens ? { tierTokens: loaded.tierTokens } : {}),
      degradedTiers: loaded.degradedTiers ?? [],
    };
    return await finishTurn(scope, msg, turn, policy, steps, chain, storeInCall, context);
  } catch (err) {
    return failedTurn(err);
  }
}

/** The turn as one model-call activity (CONTEXT_IN_MODEL_CALL_PATCH); the caller turns its refusals into failures. */
async function oneCallTurn(
  scope: TurnScope,
  msg: QueuedMessage,
  turn: number,
  policy: ConversationPolicy,
): Promise<TurnOutcome> {
  const chain = await replyWithFallback(
    {
      ...scope,
      messageId: msg.messageId,
      turn,
      content: msg.content,
      persist: msg.sentAt !== undefined ? { sentAt: msg.sentAt } : {},
      assemble: true,
    },
    policy,
  );
  if (chain.ok && chain.reply.repeated) {
    const { reply } = chain;
    const result: TurnResult = {
      messageId: msg.messageId,
      reply: {
        messageId: reply.messageId!,
        content: reply.content,
        model: reply.model,
        degraded: reply.degraded === true,
      },
      usage: reply.usage,
    };
    return { ok: true, result, fresh: false, steps: [], context: null, attempt: 0 };
  }
  const ref = chain.ok ? chain.reply.context : chain.context;
  const context = ref ? { tokens: sumOf(ref.tierTokens), ...ref, degradedTiers: ref.degradedTiers ?? [] } : null;
  return finishTurn(scope, msg, turn, policy, localStore, chain, true, context);
}

/** Stores the turn unless the model call did, and says how it went. */
async function finishTurn(
  scope: TurnScope,
  msg: QueuedMessage,
  turn: number,
  policy: ConversationPolicy,
  steps: typeof localStore,
  chain: ChainResult,
  storeInCall: boolean,
  context: TurnContext | null,
): Promise<TurnOutcome> {
  // Every model step of a tool loop is part of the reply: all of them count as accepted.
  const acceptedCallIds: string[] = 'acceptedCallIds' in chain ? (chain.acceptedCallIds as string[]) : [];
  // The reply's id when the model call stored the turn itself; otherwise it is stored here.
  const storedAs = chain.ok ? chain.reply.messageId : undefined;
  const reply = chain.ok
    ? {
        messageId: storedAs ?? uuid4(),
        content: chain.reply.content,
        model: chain.reply.model,
        // A turn the call found stored may have been stored degraded (e.g. by a run before a reset).
        degraded: chain.reply.degraded === true,
      }
    : { messageId: uuid4(), content: policy.degradedReply, model: 'none', degraded: true };
  const usage = chain.ok ? chain.reply.usage : ZERO_USAGE;
  let result: TurnResult = { messageId: msg.messageId, reply, usage };
  if (storedAs === undefined) {
    const persisted = await steps.persistTurn.executeWithOptions(
      {
        startToCloseTimeout: '30s',
        retry: { initialInterval: '1s', maximumInterval: '30s' },
        summary: persistSummary(turn, reply, usage),
      },
      [
        {
          ...scope,
          turn,
          steps: chain.steps,
          userMessage: msg,
          reply,
          usage,
          ...(chain.ok && chain.reply.llmCallId ? { llmCallId: chain.reply.llmCallId } : {}),
          // The model call could write neither the turn nor its ledger row: the row is written with the turn.
          ...(chain.ok && chain.reply.ledger ? { ledger: chain.reply.ledger } : {}),
          ...(acceptedCallIds.length > 1 ? { acceptedCallIds } : {}),
          ...(storeInCall ? { answerIfStored: true as const } : {}),
        },
      ],
    );
    // A model call had stored the turn before the chain gave up: the stored reply is the answer.
    if (persisted.stored) result = persisted.stored;
  }
  return { ok: true, result, fresh: true, steps: chain.steps, context, attempt: chain.ok ? chain.reply.attempt : 0 };
}

function failedTurn(err: unknown): TurnOutcome {
  // Only non-retryable failures get here (database activities retry forever): a deleted conversation, a
  // budget refusal, a reused messageId. They fail this turn, not the conversation.
  const cause = err instanceof ApplicationFailure ? err : (err as { cause?: unknown }).cause;
  return {
    ok: false,
    error: {
      type: failureType(err),
      message: cause instanceof Error ? cause.message : String(err),
      at: new Date().toISOString(),
    },
  };
}

const sumOf = (counts: Record<string, number> = {}) => Object.values(counts).reduce((a, b) => a + b, 0);
