/**
 * The conversation workflow's contract: its input, the messages it handles and the shapes they carry.
 * Shared by the workflow, the activities, the API and the client library, so it stays pure (no I/O).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** Tenant, conversation, user and message ids: short, URL-safe, and safe inside a workflow id. */
export const ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Anthropic's tool-name rule: MCP tools are exposed as `<server>__<tool>` within it. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** The owner of a conversation created without a user id. */
export const ANONYMOUS_USER = 'anonymous';

/** `conversation/<tenantId>/<conversationId>`: one workflow per conversation, namespaced by tenant. */
export function conversationWorkflowId(tenantId: string, conversationId: string): string {
  return `conversation/${tenantId}/${conversationId}`;
}

/** What a run needs to decide on its own; refreshed from the worker's configuration at every continue-as-new. */
export interface ConversationPolicy {
  /** Model chain: the first is the primary, the rest are fallbacks in order. */
  models: string[];
  /** Activity attempts each model gets before the chain moves on. */
  attemptsPerModel: number;
  /** Bound on the whole model chain of one turn. */
  turnDeadlineMs: number;
  /** Start-to-close timeout of one model call attempt. */
  modelCallTimeoutMs: number;
  /** Reply sent, marked degraded, when every model failed. */
  degradedReply: string;
  maxContentBytes: number;
  /** Continue-as-new after this many turns in one run, even if the server has not suggested it. */
  turnsPerRun: number;
  /** The workflow completes after this long without a message; the next message starts it again. */
  idleTimeoutMs: number;
  /** Fold history into the rolling summary when this many messages, or this many tokens, are unsummarised. */
  compactAfterMessages: number;
  compactAfterTokens: number;
  /** Compact and extract facts after this long without a message. */
  compactWhenIdleMs: number;
  factsEveryTurns: number;
  /** Messages compaction always leaves verbatim. */
  keepRecentMessages: number;
  /** Model steps one turn may take while it calls tools; past it the turn ends with a clear final reply. */
  maxToolSteps: number;
  /** How long a tool call that needs approval waits for a decision before it goes back to the model as timed out. */
  toolApprovalTimeoutMs: number;
  /**
   * How a turn without tools calls the model (`MEMOIR_MODEL_CALL`): absent or `activity`, an eager activity;
   * `local`, a local activity inside the workflow task that accepted the message (workflows/model-chain.ts).
   */
  modelCall?: 'activity' | 'local';
}

/**
 * Fields a policy gained after first release, with the values runs started before then behave as if given.
 * A run's input is fixed when it starts: new fields must never be required of it.
 */
const POLICY_DEFAULTS: Pick<
  ConversationPolicy,
  | 'compactAfterMessages'
  | 'compactAfterTokens'
  | 'compactWhenIdleMs'
  | 'factsEveryTurns'
  | 'keepRecentMessages'
  | 'maxToolSteps'
  | 'toolApprovalTimeoutMs'
> = {
  compactAfterMessages: 40,
  compactAfterTokens: 6_000,
  compactWhenIdleMs: 10 * 60_000,
  factsEveryTurns: 4,
  keepRecentMessages: 10,
  maxToolSteps: 8,
  toolApprovalTimeoutMs: 15 * 60_000,
};

export function withPolicyDefaults(
  policy: Partial<ConversationPolicy> & Omit<ConversationPolicy, keyof typeof POLICY_DEFAULTS>,
): ConversationPolicy {
  return { ...POLICY_DEFAULTS, ...policy };
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export const ZERO_USAGE: Usage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

/**
 * Usage as activity results and the `sendMessage` result carry it: counts that are 0 are left out (a turn without
 * prompt caching has two, ~40 B of history per copy). `fullUsage` fills them back; a full Usage is also a brief one,
 * so results recorded before this read the same.
 */
export type BriefUsage = Partial<Usage>;

export function briefUsage(u: Usage): BriefUsage {
  return Object.fromEntries(Object.entries(u).filter(([, v]) => v !== 0));
}

export const fullUsage = (u: BriefUsage): Usage => ({ ...ZERO_USAGE, ...u });

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    // Rounded to a nano-dollar so sums stay exact enough to reconcile with the database.
    costUsd: Math.round((a.costUsd + b.costUsd) * 1e9) / 1e9,
  };
}

/** cache_read / (input + cache_read + cache_write): the share of prompt tokens served from the prompt cache. */
export function cacheHitRatio(u: Usage): number {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
  return prompt === 0 ? 0 : u.cacheReadTokens / prompt;
}

export interface SendMessageInput {
  /**
   * Idempotency key: the same id always yields the same reply and one stored turn. When absent, the update's id
   * (`MemoirClient` sends it only as the update id, so it enters history once).
   */
  messageId?: string;
  content: string;
  /**
   * When the message was said (ISO 8601 with a time zone), when that is not now: an imported conversation, a
   * message written offline. Context shows it instead of the time it was stored. Optional, so histories recorded
   * before it replay unchanged.
   */
  sentAt?: string;
  /**
   * The caller reads the stored turn from PostgreSQL (`MemoirClient` with database access, when the store policy
   * keeps replies verbatim): the update answers `{ stored: true }`, and the reply is in history once, in the model
   * call's result, rather than again in the update's (~350 B a turn).
   */
  replyFromStore?: boolean;
}

export interface Reply {
  messageId: string;
  content: string;
  model: string;
  degraded: boolean;
}

export interface TurnResult {
  messageId: string;
  reply: Reply;
  usage: Usage;
}

export type ConversationStatus = 'active' | 'idle' | 'ended';

export interface TurnError {
  type: string;
  message: string;
  at: string;
}

export interface ConversationTotals extends Usage {
  cacheHitRatio: number;
}

/** Where the conversation's memory stands. */
export interface MemoryState {
  /** Summary version in use (null before the first compaction). */
  summaryVersion: number | null;
  unsummarizedMessages: number;
  unsummarizedTokens: number;
  turnsSinceFacts: number;
}

export interface ConversationState {
  tenantId: string;
  conversationId: string;
  userId: string;
  status: ConversationStatus;
  turnCount: number;
  /** Messages accepted but not yet answered. */
  pendingMessages: number;
  degradedReplies: number;
  fallbacks: number;
  totals: ConversationTotals;
  lastError: TurnError | null;
  lastMessageAt: string | null;
  memory: MemoryState;
  /** Memory upkeep (indexing, compaction, facts) running now. */
  upkeepRunning: boolean;
  /** The last turn's context: its size, per tier, and the tiers it had to go without. */
  lastContext: TurnContext | null;
  /** Tool calls waiting for a person's decision (absent in runs recorded before tools existed). */
  pendingApprovals?: PendingApproval[];
}

/** A tool call the turn is paused on. Its input stays in PostgreSQL; `GET .../tool-calls` shows it. */
export interface PendingApproval {
  toolUseId: string;
  tool: string;
  messageId: string;
  requestedAt: string;
  expiresAt: string;
}

/** A person's decision on a pending tool call. */
export interface ToolDecision {
  toolUseId: string;
  /** Who decided (a user id or the API key's name); recorded with the call. */
  by: string;
  reason?: string;
}

export type ToolCallOutcome = 'ok' | 'error' | 'denied' | 'approval_timeout' | 'not_rerun' | 'step_limit';

/** Attempts of one summary or fact job; past them the job waits for its next trigger. */
export const UPKEEP_MAX_ATTEMPTS = 5;

export interface TurnContext {
  tokens: number;
  /** Tokens by tier (`system`, `summary`, `facts`, `older`, `recent`, `current`, `semantic`); absent for turns of
   * runs recorded before it was kept. */
  tierTokens?: Record<string, number>;
  degradedTiers: string[];
}

/** A message waiting for its turn. */
export interface QueuedMessage {
  messageId: string;
  content: string;
  /** As in `SendMessageInput`; absent in histories recorded before it existed. */
  sentAt?: string;
}

/** Counters that outlive a run; everything else is reloaded from PostgreSQL. */
export interface CarriedState {
  userId: string;
  /** The `UserId` search attribute's value (a keyed hash of userId), computed outside the workflow. */
  userKey?: string;
  turnCount: number;
  degradedReplies: number;
  fallbacks: number;
  totals: Usage;
  lastError: TurnError | null;
  lastMessageAt: string | null;
  memory: MemoryState;
  /** Signalled messages not yet processed when the run continued as new. */
  pending: QueuedMessage[];
  /** The conversation's tools (absent: none), so a continued run needs no read to know them. */
  tools?: string[];
}

/** Display names of the two sides of a conversation; either may be unknown. */
export interface Participants {
  user?: string;
  assistant?: string;
}

export interface ConversationInput {
  tenantId: string;
  conversationId: string;
  /** Used when the conversation is created by this run; an existing conversation keeps its own. */
  userId?: string;
  systemPrompt?: string;
  /** Tools this conversation may call, by name; fixed at creation (stored with the conversation). None: text only. */
  tools?: string[];
  policy: ConversationPolicy;
  /** Present when this run continues an earlier one. */
  carried?: CarriedState;
}

export type ConversationOutcome = { status: 'idle' | 'ended'; turnCount: number; totals: Usage };

/** What the `sendMessage` update answers: the turn's result, or `{ stored: true }` when the caller asked to read the
 * stored turn (`replyFromStore`). */
export type SentMessage = TurnResult | { stored: true };

export const sendMessageUpdate = defineUpdate<SentMessage, [SendMessageInput]>('sendMessage');
export const postMessageSignal = defineSignal<[QueuedMessage]>('postMessage');
export const endConversationSignal = defineSignal<[{ reason: string }]>('endConversation');
export const getStateQuery = defineQuery<ConversationState>('getState');
/** Decide a pending tool call; refused (ToolCallNotPending) when no call with that id waits for a decision. */
export const approveToolCallUpdate = defineUpdate<void, [ToolDecision]>('approveToolCall');
export const denyToolCallUpdate = defineUpdate<void, [ToolDecision]>('denyToolCall');

/** Stable `ApplicationFailure` types the workflow raises; clients map them to HTTP statuses. */
export const FailureTypes = {
  invalidMessage: 'InvalidMessage',
  contentTooLarge: 'ContentTooLarge',
  conversationEnded: 'ConversationEnded',
  conversationBusy: 'ConversationBusy',
  conversationNotFound: 'ConversationNotFound',
  messageIdConflict: 'MessageIdConflict',
  toolCallNotPending: 'ToolCallNotPending',
  unknownTool: 'UnknownTool',
} as const;
