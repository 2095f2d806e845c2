/**
 * One long-running workflow per conversation. Messages arrive by update (the caller waits for the reply) or signal
 * (fire and forget) and are answered one at a time in arrival order. The run continues as new when the server
 * suggests it or after `turnsPerRun` turns, and completes after `idleTimeoutMs` without a message; the next
 * message starts it again with its state restored from PostgreSQL.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  addUsage,
  cacheHitRatio,
  endConversationSignal,
  FailureTypes,
  getStateQuery,
  postMessageSignal,
  sendMessageUpdate,
  type CarriedState,
  type ConversationInput,
  type ConversationOutcome,
  type ConversationState,
  type QueuedMessage,
} from './contract';
import { SearchAttributes } from './search-attributes';
import { runTurn, type TurnOutcome } from './turn';
import { checkMessage } from './validate';

const { openConversation, readPolicy } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Past this many events a run refuses new updates until it has drained and continued as new. */
const HISTORY_EVENTS_HARD_LIMIT = 40_000;
const MAX_PENDING_MESSAGES = 100;

interface Ticket {
  id: number;
  message: QueuedMessage;
}

export async function conversationWorkflow(input: ConversationInput): Promise<ConversationOutcome> {
  const { tenantId, conversationId } = input;
  let policy = input.policy;
  const scope = { tenantId, conversationId };
  const queue: Ticket[] = [];
  const outcomes = new Map<number, TurnOutcome>();
  let nextTicket = 0;
  let turnsThisRun = 0;
  let ending = false;
  const carried: CarriedState = input.carried ?? {
    userId: input.userId ?? '',
    turnCount: 0,
    degradedReplies: 0,
    fallbacks: 0,
    totals: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
    lastError: null,
    lastMessageAt: null,
    pending: [],
  };
  const state: ConversationState = {
    tenantId,
    conversationId,
    userId: carried.userId,
    status: 'active',
    turnCount: carried.turnCount,
    pendingMessages: 0,
    degradedReplies: carried.degradedReplies,
    fallbacks: carried.fallbacks,
    totals: { ...carried.totals, cacheHitRatio: cacheHitRatio(carried.totals) },
    lastError: carried.lastError,
    lastMessageAt: carried.lastMessageAt,
  };
  const enqueue = (message: QueuedMessage): number => {
    const id = nextTicket++;
    queue.push({ id, message });
    state.pendingMessages = queue.length;
    return id;
  };
  for (const message of carried.pending) enqueue(message);

  wf.setHandler(getStateQuery, () => state);
  wf.setHandler(
    sendMessageUpdate,
    async (msg) => {
      const ticket = enqueue({ messageId: msg.messageId ?? wf.uuid4(), content: msg.content });
      await wf.condition(() => outcomes.has(ticket));
      const outcome = outcomes.get(ticket)!;
      outcomes.delete(ticket);
      if (!outcome.ok) throw wf.ApplicationFailure.create({ ...outcome.error, nonRetryable: true });
      return outcome.result;
    },
    {
      validator: (msg) => {
        const rejection =
          checkMessage(msg, policy) ??
          (ending ? { type: FailureTypes.conversationEnded, message: 'the conversation has ended' } : undefined) ??
          (queue.length >= MAX_PENDING_MESSAGES || wf.workflowInfo().historyLength > HISTORY_EVENTS_HARD_LIMIT
            ? { type: FailureTypes.conversationBusy, message: 'the conversation is busy; retry shortly' }
            : undefined);
        if (rejection) throw wf.ApplicationFailure.create({ ...rejection, nonRetryable: true });
      },
    },
  );
  wf.setHandler(postMessageSignal, (msg) => {
    // A signal cannot be refused; an invalid one is logged and dropped (the API validates before signalling).
    const rejection = checkMessage(msg, policy);
    if (rejection || ending) wf.log.warn('dropped a signalled message', { messageId: msg.messageId, ...rejection });
    else enqueue({ messageId: msg.messageId, content: msg.content });
  });
  wf.setHandler(endConversationSignal, ({ reason }) => {
    wf.log.info('conversation ending', { reason });
    ending = true;
  });

  if (input.carried) {
    // A continued run starts on the policy it was handed (its validators need one at once) and picks up the
    // worker's current configuration as soon as this returns — no await on the continue-as-new path.
    void readPolicy().then((current) => (policy = current));
  } else {
    const seed = await openConversation({
      ...scope,
      ...(input.userId ? { userId: input.userId } : {}),
      ...(input.systemPrompt ? { systemPrompt: input.systemPrompt } : {}),
    });
    Object.assign(state, {
      userId: seed.userId,
      turnCount: seed.turnCount,
      degradedReplies: seed.degradedReplies,
      lastMessageAt: seed.lastMessageAt,
    });
    state.totals = { ...seed.totals, cacheHitRatio: cacheHitRatio(seed.totals) };
  }
  publishSearchAttributes(state);

  for (;;) {
    const woke = await wf.condition(() => queue.length > 0 || ending, policy.idleTimeoutMs);
    if (!woke || (ending && queue.length === 0)) break;
    if (ending) {
      // Messages still queued when the conversation ends are refused, not silently dropped.
      for (const t of queue.splice(0)) {
        outcomes.set(t.id, {
          ok: false,
          error: {
            type: FailureTypes.conversationEnded,
            message: 'the conversation has ended',
            at: new Date().toISOString(),
          },
        });
      }
      state.pendingMessages = 0;
      continue;
    }
    const ticket = queue[0]!;
    const outcome = await runTurn(scope, ticket.message, state.turnCount + 1, policy);
    queue.shift();
    state.pendingMessages = queue.length;
    record(state, outcome);
    outcomes.set(ticket.id, outcome);
    if (outcome.ok && outcome.fresh) turnsThisRun++;
    publishSearchAttributes(state);

    if ((turnsThisRun >= policy.turnsPerRun || wf.workflowInfo().continueAsNewSuggested) && queue.length === 0) {
      // A message accepted meanwhile waits on this loop, so it must wake us too: then it is answered first and
      // continue-as-new is tried again after it. No await between the check and continueAsNew.
      await wf.condition(() => wf.allHandlersFinished() || queue.length > 0);
      if (queue.length === 0 && !ending) {
        return wf.continueAsNew<typeof conversationWorkflow>({
          tenantId,
          conversationId,
          policy,
          carried: carry(state, queue),
        });
      }
    }
  }

  state.status = ending ? 'ended' : 'idle';
  publishSearchAttributes(state);
  await wf.condition(wf.allHandlersFinished);
  return { status: state.status, turnCount: state.turnCount, totals: state.totals };
}

function record(state: ConversationState, outcome: TurnOutcome): void {
  if (!outcome.ok) {
    state.lastError = outcome.error;
    return;
  }
  if (!outcome.fresh) return;
  const { result, steps } = outcome;
  state.turnCount++;
  state.totals = { ...addUsage(state.totals, result.usage), cacheHitRatio: 0 };
  state.totals.cacheHitRatio = cacheHitRatio(state.totals);
  state.lastMessageAt = new Date().toISOString();
  if (result.reply.degraded) state.degradedReplies++;
  if (steps.length > 0) {
    state.fallbacks++;
    const last = steps.at(-1)!;
    state.lastError = {
      type: last.failure,
      message: `model ${last.model} failed: ${last.failure}`,
      at: state.lastMessageAt,
    };
  }
}

function carry(state: ConversationState, queue: Ticket[]): CarriedState {
  const { cacheHitRatio: _derived, ...totals } = state.totals;
  return {
    userId: state.userId,
    turnCount: state.turnCount,
    degradedReplies: state.degradedReplies,
    fallbacks: state.fallbacks,
    totals,
    lastError: state.lastError,
    lastMessageAt: state.lastMessageAt,
    pending: queue.map((t) => t.message),
  };
}

function publishSearchAttributes(state: ConversationState): void {
  wf.upsertSearchAttributes([
    { key: SearchAttributes.tenantId, value: state.tenantId },
    { key: SearchAttributes.userId, value: state.userId },
    { key: SearchAttributes.turnCount, value: state.turnCount },
    { key: SearchAttributes.totalCostUsd, value: state.totals.costUsd },
    { key: SearchAttributes.cacheHitRatio, value: state.totals.cacheHitRatio },
    { key: SearchAttributes.status, value: state.status },
    ...(state.lastMessageAt ? [{ key: SearchAttributes.lastMessageAt, value: new Date(state.lastMessageAt) }] : []),
  ]);
}
