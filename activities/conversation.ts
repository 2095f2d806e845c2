/**
 * Activities around the durable record of a conversation: open it, assemble a turn's context, persist a turn.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes, type TurnResult, type Usage } from '../workflows/contract';
import { ModelFailure } from '../src/model/failure-types';
import { ConversationMissingError, type TurnToPersist } from '../src/storage/conversations';
import type { ChainStep } from '../workflows/model-chain';
import type { ActivityDeps } from './deps';
import { activityLogger, secondsSince } from './log-context';

export interface OpenConversationInput {
  tenantId: string;
  conversationId: string;
  userId?: string;
  systemPrompt?: string;
}

export interface ConversationSeed {
  userId: string;
  turnCount: number;
  degradedReplies: number;
  totals: Usage;
  lastMessageAt: string | null;
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
}

export type LoadContextResult = { kind: 'answered'; result: TurnResult } | { kind: 'ready'; contextTokens: number };

export function conversationActivities(deps: ActivityDeps) {
  return {
    /** Creates the conversation row on first use; returns what a new run continues from. */
    async openConversation(input: OpenConversationInput): Promise<ConversationSeed> {
      const row = await deps.conversations.open(
        input.tenantId,
        input.conversationId,
        input.userId ?? 'anonymous',
        input.systemPrompt,
      );
      return {
        userId: row.userId,
        turnCount: row.turnCount,
        degradedReplies: row.degradedReplies,
        totals: row.totals,
        lastMessageAt: row.lastMessageAt?.toISOString() ?? null,
      };
    },

    /**
     * Answers a repeated message from the store, or assembles the turn's context and records its manifest.
     * Only a reference goes back to the workflow: model inputs never enter its history.
     */
    async loadContext(input: LoadContextInput): Promise<LoadContextResult> {
      const started = performance.now();
      const { tenantId, conversationId, messageId } = input;
      const answered = await deps.conversations.findTurn(tenantId, conversationId, messageId);
      if (answered) {
        const asked = await deps.conversations.userMessage(tenantId, conversationId, messageId);
        if (asked !== null && asked !== input.content) {
          throw ApplicationFailure.nonRetryable(
            `messageId ${messageId} was already used for a different message`,
            FailureTypes.messageIdConflict,
          );
        }
        return { kind: 'answered', result: answered };
      }
      if (!(await deps.conversations.get(tenantId, conversationId))) {
        throw ApplicationFailure.nonRetryable(
          `conversation ${conversationId} does not exist`,
          FailureTypes.conversationNotFound,
        );
      }
      const budget = deps.dailyBudgetUsd(tenantId);
      if (budget !== undefined) {
        const spent = await deps.llmCalls.spentToday(tenantId);
        if (spent >= budget) {
          throw ApplicationFailure.create({
            message: `tenant ${tenantId} has spent $${spent.toFixed(4)} of its $${budget} daily budget`,
            type: ModelFailure.budgetExceeded,
            nonRetryable: true,
            details: [{ spentUsd: spent, budgetUsd: budget }],
          });
        }
      }
      const manifest = await deps.assembler.assemble({ ...input, userContent: input.content });
      await deps.manifests.save(tenantId, conversationId, manifest);
      for (const block of manifest.blocks) deps.metrics.contextTokens.inc({ tier: block.tier }, block.tokens);
      deps.metrics.turnDuration.observe({ phase: 'context' }, secondsSince(started));
      return { kind: 'ready', contextTokens: manifest.usedTokens };
    },

    /** Stores the user message and its reply in one transaction; a retry after a crash writes nothing twice. */
    async persistTurn(input: PersistTurnInput): Promise<{ userSeq: number; replySeq: number }> {
      const started = performance.now();
      const { turn, steps, ...toStore } = input;
      try {
        const { userSeq, replySeq, inserted } = await deps.conversations.persistTurn(toStore);
        if (inserted) recordTurn(deps, input, secondsSince(started));
        return { userSeq, replySeq };
      } catch (err) {
        if (err instanceof ConversationMissingError) {
          throw ApplicationFailure.nonRetryable(err.message, FailureTypes.conversationNotFound);
        }
        throw err;
      }
    },

    /** The worker's current policy, for the next run. */
    async readPolicy() {
      return deps.policy();
    },
  };
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
    },
    'turn stored',
  );
}
