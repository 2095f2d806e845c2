/**
 * Activities around the durable record of a conversation: open it, assemble a turn's context, persist a turn.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes, type MemoryState, type TurnResult, type Usage } from '../workflows/contract';
import { estimateTokens } from '../src/model/tokens';
import { ANONYMOUS_USER, ConversationMissingError, type TurnToPersist } from '../src/storage/conversations';
import type { ChainStep } from '../workflows/model-chain';
import type { ActivityDeps } from './deps';
import { activityLogger, secondsSince } from './log-context';
import { assembleTurn, contextRef } from './turn-context';

export interface OpenConversationInput {
  tenantId: string;
  conversationId: string;
  userId?: string | undefined;
  systemPrompt?: string | undefined;
  /** Tools for a conversation this call creates; an existing conversation keeps its own. */
  tools?: string[] | undefined;
}

export interface ConversationSeed {
  userId: string;
  /** The conversation's tools as stored (absent when it has none). */
  tools?: string[];
  /** What the `UserId` search attribute holds for this user (a keyed hash), when the worker has the key. */
  userKey?: string;
  turnCount: number;
  degradedReplies: number;
  totals: Usage;
  lastMessageAt: string | null;
  memory: MemoryState;
}

export interface LoadContextInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  content: string;
  turn: number;
}

export interface PersistTurnInput extends TurnToPersist {
  turn: number;
  /** Models the chain moved past before this reply, and why (for metrics and logs). */
  steps: ChainStep[];
  /**
   * A model call of this turn may have stored it already (it stores the turn it answers, and its result can be lost
   * to a crash before the chain gave up): if so, answer with that turn, the one PostgreSQL keeps.
   */
  answerIfStored?: true;
}

export type LoadContextResult =
  | { kind: 'answered'; result: TurnResult }
  | {
      kind: 'ready';
      /** Absent when `tierTokens` is given: the context's size is their sum. */
      contextTokens?: number;
      tierTokens?: Record<string, number>;
      /** Tiers that were down; absent when none was (most turns: a few bytes of history less). */
      degradedTiers?: string[];
      /**
       * The model's copy of the message differs from the manifest's (redacted for storage, not for the model):
       * generateReply needs the message itself. Absent, the manifest's copy is the model's: the message travels
       * through history once, in the update.
       */
      modelNeedsMessage?: true;
      /**
       * The store policy redacted the message: the manifest's copy is not the message, so the model call cannot
       * store the turn from it (the workflow's persistTurn does, from the message). Absent: the copies are equal.
       */
      storeRedacted?: true;
    };

export function conversationActivities(deps: ActivityDeps) {
  return {
    /** Creates the conversation row on first use; returns what a new run continues from. */
    async openConversation(input: OpenConversationInput): Promise<ConversationSeed> {
      // Checked before anything is stored: a conversation never exists with a tool this worker cannot run.
      if (input.tools) checkTools(deps, input.tools);
      const row = await deps.conversations.open(
        input.tenantId,
        input.conversationId,
        input.userId ?? ANONYMOUS_USER,
        input.systemPrompt,
        input.tools,
      );
      if (row.tools.length > 0) checkTools(deps, row.tools);
      return {
        userId: row.userId,
        ...(row.tools.length > 0 ? { tools: row.tools } : {}),
        ...(deps.userSearchKey ? { userKey: deps.userSearchKey(input.tenantId, row.userId) } : {}),
        turnCount: row.turnCount,
        degradedReplies: row.degradedReplies,
        totals: row.totals,
        lastMessageAt: row.lastMessageAt?.toISOString() ?? null,
        memory: await memoryState(deps, input.tenantId, input.conversationId),
      };
    },

    /**
     * Answers a repeated message from the store, or assembles the turn's context and records its manifest.
     * Only a reference goes back to the workflow: model inputs never enter its history.
     */
    async loadContext(input: LoadContextInput): Promise<LoadContextResult> {
      const loaded = await assembleTurn(deps, input, { keepSources: true });
      if (loaded.kind === 'answered') return loaded;
      return {
        kind: 'ready',
        ...contextRef(loaded.manifest),
        ...(loaded.modelContent !== loaded.storedContent ? { modelNeedsMessage: true as const } : {}),
        ...(loaded.storedContent !== input.content ? { storeRedacted: true as const } : {}),
      };
    },

    /** Stores the user message and its reply in one statement; a retry after a crash writes nothing twice. */
    async persistTurn(input: PersistTurnInput): Promise<{ userSeq: number; replySeq: number; stored?: TurnResult }> {
      const { answerIfStored, ...turn } = input;
      const { userSeq, replySeq, inserted } = await storeTurn(deps, turn);
      if (inserted || !answerIfStored) return { userSeq, replySeq };
      const stored = await deps.conversations.findTurn(turn.tenantId, turn.conversationId, turn.userMessage.messageId);
      return { userSeq, replySeq, ...(stored ? { stored } : {}) };
    },

    /** The worker's current policy, for the next run. */
    async readPolicy() {
      return deps.policy();
    },
  };
}

/**
 * Stores a turn (persistTurn, or the model call that answered it): redacted as the store policy says, then written
 * through to the hot tier. `inserted` is false when an earlier attempt had stored it already (nothing was written).
 */
export async function storeTurn(
  deps: ActivityDeps,
  input: PersistTurnInput,
): Promise<{ userSeq: number; replySeq: number; inserted: boolean }> {
  const started = performance.now();
  const { turn: _turn, steps: _steps, ...unredacted } = input;
  // The erasure fence of the write-through is read by the statement that stores the turn: a statement and a round
  // trip less per turn. An erasure recorded after this read races the write-through either way (the eraser drops
  // the hot tier after recording its tombstone).
  const fenceSince = new Date(Context.current().info.currentAttemptScheduledTimestampMs);
  const toStore = { ...storedForm(deps, unredacted), fenceSince };
  try {
    const { userSeq, replySeq, inserted, erased = false } = await deps.conversations.persistTurn(toStore);
    if (inserted) {
      // The log line and metrics are written while Redis takes the write-through and the notice goes out, not before.
      const through = erased ? undefined : writeThrough(deps, { ...input, ...toStore }, userSeq, replySeq);
      const notice = announced(deps, input);
      recordTurn(deps, input, secondsSince(started));
      await Promise.all([through, notice]);
    }
    return { userSeq, replySeq, inserted };
  } catch (err) {
    if (err instanceof ConversationMissingError) {
      throw ApplicationFailure.nonRetryable(err.message, FailureTypes.conversationNotFound);
    }
    throw err;
  }
}

/** Tells waiting clients the turn is stored: a hint, whose loss only costs them a workflow task. */
async function announced(deps: ActivityDeps, t: PersistTurnInput): Promise<void> {
  const turn = { tenantId: t.tenantId, conversationId: t.conversationId, messageId: t.userMessage.messageId };
  await deps.announceTurnStored?.(turn).catch((err: unknown) => {
    activityLogger(deps.log).warn({ err, ...turn }, 'could not announce a stored turn');
  });
}

/** Metrics and the one log line of a stored turn; called once per turn (only by the write that inserted it). */
function recordTurn(deps: ActivityDeps, t: PersistTurnInput, persistSeconds: number): void {
  const m = deps.metrics;
  m.turns.inc({ outcome: t.reply.degraded ? 'degraded' : 'ok', model: t.reply.model });
  m.turnDuration.observe({ phase: 'persist' }, persistSeconds);
  if (t.reply.degraded) m.degradedReplies.inc();
  for (const step of t.steps) m.fallbacks.inc({ model: step.model, reason: step.failure });
  activityLogger(deps.log).info(
    {
      tenantId: t.tenantId,
      conversationId: t.conversationId,
      messageId: t.userMessage.messageId,
      turn: t.turn,
      model: t.reply.model,
      degraded: t.reply.degraded,
      fallbacks: t.steps.length,
      inputTokens: t.usage.inputTokens,
      outputTokens: t.usage.outputTokens,
      cacheReadTokens: t.usage.cacheReadTokens,
      cacheWriteTokens: t.usage.cacheWriteTokens,
      costUsd: t.usage.costUsd,
      persistMs: Math.round(persistSeconds * 1000),
    },
    'turn stored',
  );
}

/**
 * Adds the stored turn to the hot tier (unless the erasure fence said the conversation was erased meanwhile); a
 * Redis failure only costs a cache miss later.
 */
async function writeThrough(deps: ActivityDeps, t: PersistTurnInput, userSeq: number, replySeq: number): Promise<void> {
  const now = new Date();
  const sentAt = t.userMessage.sentAt ? new Date(t.userMessage.sentAt) : null;
  try {
    await deps.hot.append(t.tenantId, t.conversationId, [
      {
        messageId: t.userMessage.messageId,
        content: t.userMessage.content,
        seq: userSeq,
        role: 'user',
        createdAt: now,
        sentAt,
        inReplyTo: null,
        model: null,
        degraded: false,
      },
      { ...t.reply, seq: replySeq, role: 'assistant', createdAt: now, sentAt, inReplyTo: t.userMessage.messageId },
    ]);
  } catch {
    deps.metrics.tierErrors.inc({ tier: 'hot' });
  }
}

/** Where a restarted conversation's memory stands, from PostgreSQL. */
async function memoryState(deps: ActivityDeps, tenantId: string, conversationId: string): Promise<MemoryState> {
  const [summary, lastSeq, factsThrough] = await Promise.all([
    deps.summaries.latest(tenantId, conversationId),
    deps.conversations.lastSeq(tenantId, conversationId),
    deps.conversations.factsThrough(tenantId, conversationId),
  ]);
  const pending = await deps.conversations.range(tenantId, conversationId, (summary?.toSeq ?? 0) + 1, lastSeq);
  return {
    summaryVersion: summary?.version ?? null,
    unsummarizedMessages: pending.length,
    unsummarizedTokens: pending.reduce((t, m) => t + estimateTokens(m.content), 0),
    turnsSinceFacts: Math.ceil((lastSeq - factsThrough) / 2),
  };
}

/** The turn as policy lets it be stored: redacted text, with what was removed listed for the audit table. */
function storedForm(deps: ActivityDeps, t: TurnToPersist): TurnToPersist {
  if (!deps.privacy.applies('store')) return t;
  const user = deps.privacy.at('store', t.userMessage.content);
  const reply = deps.privacy.at('store', t.reply.content);
  const audit = (messageId: string, findings: typeof user.findings) =>
    findings.map((f) => ({ messageId, stage: 'store', piiType: f.type, hash: f.hash }));
  return {
    ...t,
    userMessage: { ...t.userMessage, content: user.text },
    reply: { ...t.reply, content: reply.text },
    redactions: [...audit(t.userMessage.messageId, user.findings), ...audit(t.reply.messageId, reply.findings)],
  };
}

/** Refuses tool names this worker does not offer (UnknownTool: the API answers 400). */
function checkTools(deps: ActivityDeps, tools: string[]): void {
  const unknown = deps.tools ? deps.tools.registry.unknown(tools) : tools;
  if (unknown.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `unknown tool${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      FailureTypes.unknownTool,
    );
  }
}
