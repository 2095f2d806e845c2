/**
 * The conversation's state as the query shows it, how a turn changes it, what continue-as-new carries, and the
 * search attributes that mirror it in the Temporal UI.
 */
import { patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import {
  addUsage,
  cacheHitRatio,
  type CarriedState,
  type ConversationState,
  type QueuedMessage,
  type Usage,
} from './contract';
import { SearchAttributes } from './search-attributes';
import type { TurnOutcome } from './turn';

const ZERO: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };

export function initialState(
  tenantId: string,
  conversationId: string,
  carried: CarriedState | undefined,
  userId = '',
): ConversationState {
  const c: CarriedState = carried ?? {
    userId,
    turnCount: 0,
    degradedReplies: 0,
    fallbacks: 0,
    totals: ZERO,
    lastError: null,
    lastMessageAt: null,
    memory: { summaryVersion: null, unsummarizedMessages: 0, unsummarizedTokens: 0, turnsSinceFacts: 0 },
    pending: [],
  };
  return {
    tenantId,
    conversationId,
    userId: c.userId,
    status: 'active',
    turnCount: c.turnCount,
    pendingMessages: c.pending.length,
    degradedReplies: c.degradedReplies,
    fallbacks: c.fallbacks,
    totals: { ...c.totals, cacheHitRatio: cacheHitRatio(c.totals) },
    lastError: c.lastError,
    lastMessageAt: c.lastMessageAt,
    memory: { ...c.memory },
    upkeepRunning: false,
    lastContext: null,
  };
}

export function addToTotals(state: ConversationState, usage: Usage): void {
  const { cacheHitRatio: _derived, ...totals } = state.totals;
  const sum = addUsage(totals, usage);
  state.totals = { ...sum, cacheHitRatio: cacheHitRatio(sum) };
}

/** Folds a finished turn into the state. */
export function recordTurn(state: ConversationState, outcome: TurnOutcome): void {
  if (!outcome.ok) {
    state.lastError = outcome.error;
    return;
  }
  if (!outcome.fresh) return;
  const { result, steps } = outcome;
  state.turnCount++;
  addToTotals(state, result.usage);
  state.lastMessageAt = new Date().toISOString();
  state.lastContext = outcome.context;
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

export function carry(state: ConversationState, pending: QueuedMessage[], userKey?: string): CarriedState {
  const { cacheHitRatio: _derived, ...totals } = state.totals;
  return {
    userId: state.userId,
    ...(userKey !== undefined ? { userKey } : {}),
    turnCount: state.turnCount,
    degradedReplies: state.degradedReplies,
    fallbacks: state.fallbacks,
    totals,
    lastError: state.lastError,
    lastMessageAt: state.lastMessageAt,
    memory: { ...state.memory },
    pending,
  };
}

/**
 * Runs with this marker keep the user id out of visibility: `UserId` holds a keyed hash computed by an activity
 * (or nothing, when the worker has no key). Earlier runs published the id itself.
 */
export const HASHED_USER_ID_PATCH = 'user-id-hashed-in-search-attributes';

/**
 * Runs with this marker upsert only the search attributes whose value changed, and nothing when none did: every
 * turn used to write all seven again (tenant, user and status never change within a turn), ~770 B of history per
 * turn and a second upsert event whenever upkeep reported its cost with the totals unchanged.
 */
export const CHANGED_ONLY_PATCH = 'search-attributes-changed-only';

export function publishSearchAttributes(state: ConversationState, userKey?: string): void {
  const user = patched(HASHED_USER_ID_PATCH) ? userKey : state.userId;
  const all: SearchAttributeUpdatePair[] = [
    { key: SearchAttributes.tenantId, value: state.tenantId },
    ...(user !== undefined ? [{ key: SearchAttributes.userId, value: user }] : []),
    { key: SearchAttributes.turnCount, value: state.turnCount },
    { key: SearchAttributes.totalCostUsd, value: state.totals.costUsd },
    { key: SearchAttributes.cacheHitRatio, value: state.totals.cacheHitRatio },
    { key: SearchAttributes.status, value: state.status },
    ...(state.lastMessageAt ? [{ key: SearchAttributes.lastMessageAt, value: new Date(state.lastMessageAt) }] : []),
  ];
  if (!patched(CHANGED_ONLY_PATCH)) return upsertSearchAttributes(all);
  const current = workflowInfo().typedSearchAttributes;
  const changed = all.filter((pair) => !sameValue(current.get(pair.key), pair.value));
  if (changed.length > 0) upsertSearchAttributes(changed);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

/**
 * Runs with this marker publish the counters that change with every turn (turn count, cost, cache hit ratio, last
 * message time) every `SEARCH_ATTRIBUTES_EVERY_TURNS` turns while the conversation is busy — and after its first
 * turn, whenever it pauses (the idle timer fires) and when the run ends. An upsert after every turn was one history
 * event and 200–380 B per turn; visibility (the conversation list, `temporal workflow list`) now lags a busy
 * conversation by at most that many turns and catches up when it goes quiet. `getState` is always current.
 */
export const SEARCH_ATTRIBUTES_BATCHED_PATCH = 'search-attributes-batched';
export const SEARCH_ATTRIBUTES_EVERY_TURNS = 10;

export class SearchAttributePublisher {
  /** The turn count visibility shows: the run publishes everything when it starts. */
  private publishedTurns: number;

  /** `batched`: the value of `patched(SEARCH_ATTRIBUTES_BATCHED_PATCH)`, read once when the run starts. */
  constructor(
    readonly batched: boolean,
    private readonly state: ConversationState,
    private readonly userKey: () => string | undefined,
  ) {
    this.publishedTurns = state.turnCount;
  }

  /** Now (what changed since the last upsert, nothing when nothing did). */
  publish(): void {
    publishSearchAttributes(this.state, this.userKey());
    this.publishedTurns = this.state.turnCount;
  }

  /** After a turn (or an upkeep job's usage): now when unbatched, else when enough turns went unpublished. */
  afterChange(): void {
    const behind = this.state.turnCount - this.publishedTurns;
    if (!this.batched || this.publishedTurns === 0 || behind >= SEARCH_ATTRIBUTES_EVERY_TURNS) this.publish();
  }
}
