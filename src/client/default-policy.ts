/**
 * The policy a client hands to the conversations it starts when it is given none: the server's defaults (the
 * MEMOIR_* policy settings unset; a test keeps the two equal). A run keeps the policy it started with until its
 * first continue-as-new, when it reads the workers' current one — so an application talking to a server with
 * other policy settings passes them (`MemoirClientOptions.policy`) to have them from the first turn.
 */
import type { ConversationPolicy } from '../../workflows/contract';

export const DEFAULT_POLICY: Readonly<ConversationPolicy> = Object.freeze({
  models: ['claude-sonnet-5-5', 'claude-haiku-5-5'],
  attemptsPerModel: 3,
  modelCallTimeoutMs: 60_000,
  turnDeadlineMs: 120_000,
  degradedReply:
    "I'm sorry — I can't reach the language model right now. Your message is saved; please try again in a moment.",
  maxContentBytes: 32 * 1024,
  turnsPerRun: 200,
  idleTimeoutMs: 7 * 24 * 3600_000,
  compactAfterMessages: 40,
  compactAfterTokens: 6_000,
  compactWhenIdleMs: 10 * 60_000,
  factsEveryTurns: 4,
  keepRecentMessages: 10,
  maxToolSteps: 8,
  toolApprovalTimeoutMs: 15 * 60_000,
});
