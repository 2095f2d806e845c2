/**
 * Activities that do no I/O, for bench/wft/activation-cost.ts: the worker's CPU is then the workflow side alone
 * (activations, the sandbox, payload conversion, the SDK's core), which is what that script compares.
 */
import { randomUUID } from 'node:crypto';

const NO_USAGE = { inputTokens: 0, outputTokens: 0 };

export function stubActivities() {
  return {
    async openConversation(input: { userId?: string }) {
      return {
        userId: input.userId ?? 'anonymous',
        turnCount: 0,
        degradedReplies: 0,
        totals: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
        lastMessageAt: null,
        memory: { summaryVersion: null, unsummarizedMessages: 0, unsummarizedTokens: 0, turnsSinceFacts: 0 },
      };
    },
    async readPolicy() {
      throw new Error('not used: runs are not continued in this benchmark');
    },
    /** A reply the call "stored" itself, as the one-activity turn's model call answers. */
    async generateReply(_call: { messageId: string; turn: number; model: string }) {
      return { content: 'ok', usage: { inputTokens: 120, outputTokens: 8 }, messageId: randomUUID() };
    },
    /** The local model call of MEMOIR_MODEL_CALL=local, answering at once (never handed over). */
    async replyOrHandOver(_call: { messageId: string; turn: number; model: string }) {
      return { content: 'ok', usage: { inputTokens: 120, outputTokens: 8 }, messageId: randomUUID() };
    },
    async indexMessages() {
      return { indexed: 0 };
    },
    async compactHistory() {
      return { remainingMessages: 10, remainingTokens: 100, version: 1, usage: NO_USAGE };
    },
    /** Indexed too when asked (patch `facts-and-index-together`), as the real one says when the index is up. */
    async extractFacts(input: { index?: true }) {
      return { usage: NO_USAGE, ...(input.index ? { indexed: true } : {}) };
    },
  };
}

export type FloorActivities = ReturnType<typeof stubActivities>;
