/**
 * `MemoirClient`: start and message conversations from TypeScript, over the Temporal client. The HTTP API and the
 * CLI are built on it; applications that do not want HTTP use it directly.
 */
import { randomUUID } from 'node:crypto';
import { newMessageId } from './message-id';
import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  ANONYMOUS_USER,
  approveToolCallUpdate,
  conversationWorkflowId,
  denyToolCallUpdate,
  endConversationSignal,
  FailureTypes,
  getStateQuery,
  isValidId,
  postMessageSignal,
  sendMessageUpdate,
  TOOL_NAME_PATTERN,
  type ConversationInput,
  type ConversationPolicy,
  type ConversationState,
  type ConversationStatus,
  type Participants,
  type ToolDecision,
  type TurnResult,
} from '../../workflows/contract';
import { SearchAttributes } from '../../workflows/search-attributes';
import { checkMessage } from '../../workflows/validate';
import { fromFailureType, MemoirError, notFound, toMemoirError } from './errors';
import { explainedError } from './failing-task';
import { DEFAULT_POLICY } from './default-policy';
import type {
  ContextManifestView,
  ContextPreviewer,
  ConversationReader,
  ConversationWorkflow,
  ManifestReader,
  StoredMessage,
  StoredTurnNotices,
  UserSearchKey,
} from './ports';
import type { ListToolCallsOptions, ToolCallReader, ToolCallView } from './tool-calls';

export interface MemoirClientOptions {
  client: Client;
  taskQueue: string;
  /** Policy handed to runs this client starts; default DEFAULT_POLICY (the server's defaults). */
  policy?: ConversationPolicy;
  /**
   * Read access to PostgreSQL: exact 409s on create, stored messages, state of finished conversations. An
   * application with only a Temporal connection leaves it out; those methods then answer 501.
   */
  conversations?: ConversationReader;
  /** Context manifests, for `contextOf`; absent in a client that only talks to Temporal. */
  manifests?: ManifestReader;
  /** Context assembly, for previews; absent in a client that only talks to Temporal. */
  assembler?: ContextPreviewer;
  /**
   * Replies are stored as the model wrote them (no store-stage redaction, as the workers are configured): with
   * `conversations`, `sendMessage` then reads the answered turn from PostgreSQL, and the update's result in history
   * holds no second copy of the reply.
   */
  repliesStoredVerbatim?: boolean;
  /**
   * Notices of stored turns: with `conversations` and `repliesStoredVerbatim`, `sendMessage` then answers as soon as
   * the turn's statement has committed, from PostgreSQL, without waiting for the workflow task that completes the
   * update (docs/operations.md, "Reply on commit").
   */
  storedTurns?: StoredTurnNotices;
  /** How a message is stored (redacted by policy), to recognise a repeated messageId. */
  storedForm?: (text: string) => string;
  /**
   * The keyed hash the `UserId` search attribute holds (the workers' key: MEMOIR_REDACT_KEY). Without it, runs
   * this client starts carry no `UserId` and listing by user is refused.
   */
  userSearchKey?: UserSearchKey;
  /** The `tool_calls` rows, for `listToolCalls`; absent in a client that only talks to Temporal. */
  toolCalls?: ToolCallReader;
  /** Tool names the workers offer, to refuse unknown ones at creation; absent: the workflow refuses them. */
  toolNames?: () => string[];
}

export interface ContextPreview {
  budgetTokens: number;
  usedTokens: number;
  blocks: { tier: string; tokens: number; text: string; sourceIds: string[] }[];
  degradedTiers: string[];
  /** The recall gate's signal and verdict: `fill` previews (an explicit budget) are not gated. */
  recallGate?: { score: number; threshold: number; open: boolean; mode: 'turn' | 'fill' };
}

export interface StartConversationInput {
  conversationId?: string | undefined;
  userId: string;
  systemPrompt?: string | undefined;
  /** Tools the conversation may call, by name (`search_memory`, `files__read`…); fixed at creation. None: text only. */
  tools?: string[] | undefined;
  /** Names of who speaks as the user and as the assistant (recall labels lines with them). */
  participants?: { user?: string | undefined; assistant?: string | undefined } | undefined;
}

/** Who decides on a pending tool call, and why. */
export interface ToolCallDecisionInput {
  by: string;
  reason?: string | undefined;
}

export interface MessageInput {
  content: string;
  messageId?: string | undefined;
  /** Owner of the conversation if this message creates it. */
  userId?: string | undefined;
  /** When the message was said (ISO 8601 with a time zone), if not now: context dates it by this. */
  sentAt?: string | undefined;
}

export interface ListFilter {
  userId?: string | undefined;
  status?: ConversationStatus | undefined;
  /** Conversations that cost at least this much. */
  minCostUsd?: number | undefined;
  limit?: number | undefined;
}

export interface ConversationSummary {
  conversationId: string;
  workflowId: string;
  runId: string;
  userId: string | undefined;
  status: string | undefined;
  turnCount: number;
  totalCostUsd: number;
  cacheHitRatio: number;
  lastMessageAt: string | undefined;
  startedAt: string;
}

export interface SendOptions {
  /** Give up waiting after this long (the turn still completes; resend the same messageId to get its reply). */
  waitMs?: number;
}

/** Most tools one conversation may have (the Messages API's own limit is far higher; prompts stay small). */
const MAX_TOOLS = 64;

export class MemoirClient {
  private readonly policy: ConversationPolicy;
  /**
   * Per conversation, the update of the last turn answered from the store, until the workflow completes it: this
   * client's reads of the workflow's state wait for it, so they see the turns it answered (read your writes).
   */
  private readonly settling = new Map<string, Promise<void>>();

  constructor(private readonly opts: MemoirClientOptions) {
    this.policy = opts.policy ?? { ...DEFAULT_POLICY, models: [...DEFAULT_POLICY.models] };
  }

  /** Creates a conversation; fails with `conversation_exists` (409) when the id is taken. */
  async startConversation(tenantId: string, input: StartConversationInput) {
    checkTenant(tenantId);
    const conversationId = input.conversationId ?? randomUUID();
    const tools = this.checkedTools(input.tools);
    const created = await this.opts.conversations?.create(tenantId, conversationId, input.userId, input.systemPrompt, {
      tools,
      participants: namesOf(input.participants),
    });
    if (created === false)
      throw new MemoirError('conversation_exists', 409, `conversation ${conversationId} already exists`);
    try {
      const handle = await this.opts.client.workflow.start('conversationWorkflow', {
        ...this.startOptions(tenantId, conversationId, input.userId),
        args: [
          {
            ...this.input(tenantId, conversationId, input.userId, input.systemPrompt),
            ...(tools.length ? { tools } : {}),
          },
        ],
        workflowIdConflictPolicy: 'FAIL',
      });
      return { conversationId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
    } catch (err) {
      throw toMemoirError(err);
    }
  }

  /** Sends a message and waits for the reply, starting the conversation's workflow if it is not running. */
  async sendMessage(
    tenantId: string,
    conversationId: string,
    msg: MessageInput,
    options: SendOptions = {},
  ): Promise<TurnResult> {
    checkTenant(tenantId);
    const messageId = this.validated(msg);
    await this.beforeSend(tenantId, conversationId, messageId, msg);
    const startWorkflowOperation = new WithStartWorkflowOperation<ConversationWorkflow>('conversationWorkflow', {
      ...this.startOptions(tenantId, conversationId, msg.userId),
      args: [this.input(tenantId, conversationId, msg.userId)],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    // The message's id travels once, as the update's id: the workflow takes it from there (history holds each copy,
    // ~50 B a turn). With database access the reply is read from the stored turn rather than carried back in the
    // update's result.
    const store = this.opts.repliesStoredVerbatim ? this.opts.conversations : undefined;
    // Watched before the update is sent, so a notice cannot come before its waiter.
    const watch = store && this.opts.storedTurns?.watch({ tenantId, conversationId, messageId });
    let readEarly: TurnResult | undefined;
    const update = this.opts.client.workflow
      .executeUpdateWithStart(sendMessageUpdate, {
        args: [
          {
            content: msg.content,
            ...(msg.sentAt ? { sentAt: msg.sentAt } : {}),
            ...(store ? { replyFromStore: true } : {}),
          },
        ],
        updateId: messageId,
        startWorkflowOperation,
      })
      .then(async (sent): Promise<TurnResult> => {
        if (!('stored' in sent)) return sent;
        // Read already, when its notice came first: the same turn, not read twice.
        if (readEarly) return readEarly;
        const stored = await store?.findTurn(tenantId, conversationId, messageId);
        if (!stored) throw notFound('conversation'); // erased between the answer and this read
        return stored;
      });
    // The turn as soon as it is stored: a notice, then the stored turn read back (the one the update's answer would
    // have pointed to). A failed read or a turn not found (erased meanwhile) leaves the answer to the update.
    const answer =
      watch && store
        ? storedOrUpdated(
            update,
            watch.stored
              .then(() => store.findTurn(tenantId, conversationId, messageId))
              .then((turn) => (readEarly = turn ?? undefined)),
          )
        : update;
    if (watch) this.settleLater(conversationWorkflowId(tenantId, conversationId), update);
    try {
      return options.waitMs ? await withDeadline(answer, options.waitMs, messageId) : await answer;
    } catch (err) {
      throw await explainedError(this.opts.client, conversationWorkflowId(tenantId, conversationId), err);
    } finally {
      watch?.cancel();
    }
  }

  /** Queues a message without waiting (signal-with-start); its reply is read later from `messages`. */
  async postMessage(tenantId: string, conversationId: string, msg: MessageInput): Promise<{ messageId: string }> {
    checkTenant(tenantId);
    const messageId = this.validated(msg);
    await this.beforeSend(tenantId, conversationId, messageId, msg);
    try {
      await this.opts.client.workflow.signalWithStart('conversationWorkflow', {
        ...this.startOptions(tenantId, conversationId, msg.userId),
        args: [this.input(tenantId, conversationId, msg.userId)],
        signal: postMessageSignal,
        signalArgs: [{ messageId, content: msg.content, ...(msg.sentAt ? { sentAt: msg.sentAt } : {}) }],
      });
      return { messageId };
    } catch (err) {
      throw toMemoirError(err);
    }
  }

  /** Live state from the workflow; for a conversation whose workflow is gone, what PostgreSQL knows. */
  async getState(tenantId: string, conversationId: string): Promise<ConversationState> {
    checkTenant(tenantId);
    // An erased conversation's workflow still answers queries; PostgreSQL says whether it exists.
    const store = this.opts.conversations;
    if (store && !(await store.get(tenantId, conversationId))) throw notFound('conversation');
    await settledOrLate(this.settling.get(conversationWorkflowId(tenantId, conversationId)));
    try {
      return await this.handle(tenantId, conversationId).query(getStateQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || !store) throw toMemoirError(err);
    }
    const row = await store.get(tenantId, conversationId);
    if (!row) throw notFound('conversation');
    return {
      tenantId,
      conversationId,
      userId: row.userId,
      status: 'idle',
      turnCount: row.turnCount,
      pendingMessages: 0,
      degradedReplies: row.degradedReplies,
      fallbacks: 0,
      totals: { ...row.totals, cacheHitRatio: 0 },
      lastError: null,
      lastMessageAt: row.lastMessageAt?.toISOString() ?? null,
      memory: { summaryVersion: null, unsummarizedMessages: 0, unsummarizedTokens: 0, turnsSinceFacts: 0 },
      upkeepRunning: false,
      lastContext: null,
    };
  }

  async messages(
    tenantId: string,
    conversationId: string,
    page: { limit?: number | undefined; before?: number | undefined } = {},
  ): Promise<StoredMessage[]> {
    checkTenant(tenantId);
    const store = this.store();
    if (!(await store.get(tenantId, conversationId))) throw notFound('conversation');
    return store.page(tenantId, conversationId, page.limit ?? 50, page.before);
  }

  /**
   * A tenant's conversations, newest first, from Temporal visibility (the search attributes the workflow keeps
   * current). One entry per conversation, for its latest run.
   */
  async listConversations(tenantId: string, filter: ListFilter = {}): Promise<ConversationSummary[]> {
    checkTenant(tenantId);
    const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
    const clauses = [`WorkflowType = 'conversationWorkflow'`, `TenantId = ${quote(tenantId)}`];
    if (filter.userId) {
      const key = this.opts.userSearchKey;
      if (!key) throw new MemoirError('unavailable', 501, 'this client cannot list by user (no user search key)');
      clauses.push(`UserId = ${quote(key(tenantId, filter.userId))}`);
    }
    if (filter.status) clauses.push(`ConversationStatus = ${quote(filter.status)}`);
    if (filter.minCostUsd !== undefined) clauses.push(`TotalCostUsd >= ${Number(filter.minCostUsd)}`);
    const limit = filter.limit ?? 100;
    const seen = new Map<string, ConversationSummary>();
    const prefix = conversationWorkflowId(tenantId, '');
    for await (const wf of this.opts.client.workflow.list({ query: clauses.join(' AND ') })) {
      if (seen.has(wf.workflowId)) continue;
      const sa = wf.typedSearchAttributes;
      seen.set(wf.workflowId, {
        conversationId: wf.workflowId.slice(prefix.length),
        workflowId: wf.workflowId,
        runId: wf.runId,
        // Visibility holds only a keyed hash (and memos are not sealed by the codec): the id is the one asked
        // for, or the database's.
        userId:
          filter.userId ?? (await this.opts.conversations?.get(tenantId, wf.workflowId.slice(prefix.length)))?.userId,
        status: sa.get(SearchAttributes.status),
        turnCount: sa.get(SearchAttributes.turnCount) ?? 0,
        totalCostUsd: sa.get(SearchAttributes.totalCostUsd) ?? 0,
        cacheHitRatio: sa.get(SearchAttributes.cacheHitRatio) ?? 0,
        lastMessageAt: sa.get(SearchAttributes.lastMessageAt)?.toISOString(),
        startedAt: wf.startTime.toISOString(),
      });
      if (seen.size >= limit) break;
    }
    return [...seen.values()];
  }

  /** The context manifest of a stored turn: what went into the model call that answered `messageId`. */
  async contextOf(tenantId: string, conversationId: string, messageId: string): Promise<ContextManifestView> {
    checkTenant(tenantId);
    if (!this.opts.manifests) throw new MemoirError('unavailable', 501, 'this client cannot read context manifests');
    const manifest = await this.opts.manifests.get(tenantId, conversationId, messageId);
    if (!manifest) throw notFound('context for that message');
    return manifest;
  }

  /**
   * What would be assembled for `query` now, block by block, exactly as the model would be sent it — without
   * adding anything to the conversation.
   */
  async previewContext(
    tenantId: string,
    conversationId: string,
    query: string,
    budgetTokens?: number,
    recall?: { topK?: number | undefined; share?: number | undefined },
  ): Promise<ContextPreview> {
    checkTenant(tenantId);
    if (!this.opts.assembler) throw new MemoirError('unavailable', 501, 'this client cannot assemble context');
    if (!(await this.store().get(tenantId, conversationId))) throw notFound('conversation');
    const { manifest, blocks } = await this.opts.assembler.assemble({
      tenantId,
      conversationId,
      messageId: 'preview',
      userContent: query,
      turn: 0,
      ...(budgetTokens ? { budgetTokens } : {}),
      ...(recall ? { recall } : {}),
      // An explicit budget asks what recall could bring within it; without one, the preview is what a turn gets.
      recallMode: budgetTokens ? 'fill' : 'turn',
    });
    return {
      budgetTokens: manifest.budgetTokens,
      usedTokens: manifest.usedTokens,
      blocks: blocks.map((b) => ({ tier: b.tier, tokens: b.tokens, text: b.text, sourceIds: b.sourceIds })),
      degradedTiers: manifest.degradedTiers,
      ...(manifest.recallGate ? { recallGate: manifest.recallGate } : {}),
    };
  }

  /** Lets a tool call the conversation's turn is paused on run; 409 `tool_call_not_pending` when none waits. */
  approveToolCall(tenantId: string, conversationId: string, toolUseId: string, decision: ToolCallDecisionInput) {
    return this.decide('approve', tenantId, conversationId, toolUseId, decision);
  }

  /** Refuses a pending tool call: the model is told it was denied, and why. */
  denyToolCall(tenantId: string, conversationId: string, toolUseId: string, decision: ToolCallDecisionInput) {
    return this.decide('deny', tenantId, conversationId, toolUseId, decision);
  }

  /** The conversation's tool calls, oldest first; inputs and results only with `includeIo`. */
  async listToolCalls(
    tenantId: string,
    conversationId: string,
    options: ListToolCallsOptions = {},
  ): Promise<ToolCallView[]> {
    checkTenant(tenantId);
    if (!this.opts.toolCalls) throw new MemoirError('unavailable', 501, 'this client cannot read tool calls');
    if (!(await this.store().get(tenantId, conversationId))) throw notFound('conversation');
    return this.opts.toolCalls.list(tenantId, conversationId, {
      includeIo: options.includeIo === true,
      messageId: options.messageId,
      limit: options.limit ?? 100,
    });
  }

  private settleLater(workflowId: string, update: Promise<unknown>): void {
    const settled = update.then(
      () => undefined,
      () => undefined,
    );
    this.settling.set(workflowId, settled);
    void settled.then(() => {
      if (this.settling.get(workflowId) === settled) this.settling.delete(workflowId);
    });
  }

  private async decide(
    verdict: 'approve' | 'deny',
    tenantId: string,
    conversationId: string,
    toolUseId: string,
    input: ToolCallDecisionInput,
  ): Promise<void> {
    checkTenant(tenantId);
    // PostgreSQL says whether the conversation exists (an erased one's workflow may still answer).
    const store = this.opts.conversations;
    if (store && !(await store.get(tenantId, conversationId))) throw notFound('conversation');
    const decision: ToolDecision = { toolUseId, by: input.by, ...(input.reason ? { reason: input.reason } : {}) };
    try {
      await this.handle(tenantId, conversationId).executeUpdate(
        verdict === 'approve' ? approveToolCallUpdate : denyToolCallUpdate,
        { args: [decision] },
      );
    } catch (err) {
      // A conversation whose workflow is not running has no turn, so no call waiting for a decision.
      if (err instanceof WorkflowNotFoundError && store)
        throw fromFailureType(FailureTypes.toolCallNotPending, `no tool call ${toolUseId} is waiting for a decision`)!;
      throw await explainedError(this.opts.client, conversationWorkflowId(tenantId, conversationId), err);
    }
  }

  /** Asks the workflow to finish its current turn and complete. */
  async endConversation(tenantId: string, conversationId: string, reason = 'ended by client'): Promise<void> {
    checkTenant(tenantId);
    try {
      await this.handle(tenantId, conversationId).signal(endConversationSignal, { reason });
    } catch (err) {
      throw toMemoirError(err);
    }
  }

  handle(tenantId: string, conversationId: string): WorkflowHandle<ConversationWorkflow> {
    checkTenant(tenantId);
    return this.opts.client.workflow.getHandle(conversationWorkflowId(tenantId, conversationId));
  }

  /**
   * One round trip before a message is sent. The conversation's row is created (a no-op when it exists) before the
   * first payload of its workflow is encoded: with per-user keys the codec learns the owner from that row, and must
   * not fall back to the tenant key. And a messageId is an idempotency key for one message: the same id with other
   * content is a client bug, refused here (and again by the workflow, for a message still in flight) rather than
   * silently answered with the reply to something else; it can only be found in a conversation that exists.
   */
  private async beforeSend(tenantId: string, conversationId: string, messageId: string, msg: MessageInput) {
    const store = this.opts.conversations;
    if (!store) return;
    const stored = await store.openForMessage(tenantId, conversationId, msg.userId ?? ANONYMOUS_USER, messageId);
    if (stored !== null && stored !== (this.opts.storedForm?.(msg.content) ?? msg.content)) {
      throw fromFailureType(
        FailureTypes.messageIdConflict,
        `messageId ${messageId} was already used for a different message`,
      )!;
    }
  }

  private store(): ConversationReader {
    if (!this.opts.conversations)
      throw new MemoirError('unavailable', 501, 'this client has no database access (use the HTTP API)');
    return this.opts.conversations;
  }

  /** Tool names checked before anything is stored: malformed, repeated or unknown names are refused (400). */
  private checkedTools(tools: string[] | undefined): string[] {
    if (tools === undefined) return [];
    const bad = tools.filter((t) => typeof t !== 'string' || !TOOL_NAME_PATTERN.test(t));
    if (bad.length > 0 || new Set(tools).size !== tools.length || tools.length > MAX_TOOLS) {
      throw new MemoirError('invalid_tools', 400, `tools must be at most ${MAX_TOOLS} distinct valid tool names`);
    }
    const offered = this.opts.toolNames?.();
    const unknown = offered ? tools.filter((t) => !offered.includes(t)) : [];
    if (unknown.length > 0) throw new MemoirError('unknown_tool', 400, `unknown tool: ${unknown.join(', ')}`);
    return tools;
  }

  private validated(msg: MessageInput): string {
    const rejection = checkMessage(msg, this.policy);
    if (rejection) throw fromFailureType(rejection.type, rejection.message)!;
    return msg.messageId ?? newMessageId();
  }

  private input(tenantId: string, conversationId: string, userId?: string, systemPrompt?: string): ConversationInput {
    return {
      tenantId,
      conversationId,
      policy: this.policy,
      ...(userId ? { userId } : {}),
      ...(systemPrompt ? { systemPrompt } : {}),
    };
  }

  private startOptions(tenantId: string, conversationId: string, userId?: string) {
    return {
      workflowId: conversationWorkflowId(tenantId, conversationId),
      taskQueue: this.opts.taskQueue,
      // A turn's database steps run as local activities inside workflow tasks: when a worker dies mid-task, the
      // task's timeout is how long the turn waits before another worker takes it over (the default is 10 s).
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      staticSummary: `Conversation ${conversationId} · tenant ${tenantId}${userId ? ` · user ${userId}` : ''}`,
      typedSearchAttributes: [
        { key: SearchAttributes.tenantId, value: tenantId },
        { key: SearchAttributes.status, value: 'active' },
        ...(userId && this.opts.userSearchKey
          ? [{ key: SearchAttributes.userId, value: this.opts.userSearchKey(tenantId, userId) }]
          : []),
      ],
    };
  }
}

/**
 * Every tenant id is one an API key or an operator named; an empty or malformed one is a caller's bug that would
 * otherwise put data in a tenant nobody created (the HTTP API can never pass one: it refuses such keys).
 */
function checkTenant(tenantId: string): void {
  if (!isValidId(tenantId))
    throw new MemoirError('invalid_tenant', 400, 'tenant id must match [A-Za-z0-9._-]{1,128}', { tenantId });
}

/**
 * How long a workflow task taken by a worker that then died holds its turn before another worker gets it: with the
 * model call's 3 s heartbeat timeout and the 1 s sticky queue timeout, what bounds recovery from a worker crash
 * (docs/reliability.md). Long enough for a loaded worker's workflow task (a short history replays in milliseconds);
 * local activities past 80% of it are heartbeated by the SDK (three history events each time).
 */
export const WORKFLOW_TASK_TIMEOUT = '3s';

async function withDeadline<T>(work: Promise<T>, ms: number, messageId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MemoirError(
            'reply_pending',
            504,
            `no reply within ${ms} ms; the turn continues — resend messageId ${messageId} to get its reply`,
            {
              messageId,
            },
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

/** Participant names without the absent ones. */
function namesOf(p: StartConversationInput['participants']): Participants {
  return { ...(p?.user ? { user: p.user } : {}), ...(p?.assistant ? { assistant: p.assistant } : {}) };
}

/**
 * How long a state read waits for the workflow to complete the update of a turn this client answered from the store.
 * That takes milliseconds; a workflow task that keeps failing (a bad deploy, a dead worker) must not hold the read
 * that would show it, so past this the state is read as it stands.
 */
const SETTLE_WAIT_MS = 2_000;

async function settledOrLate(settling: Promise<void> | undefined): Promise<void> {
  if (!settling) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_WAIT_MS)));
  try {
    await Promise.race([settling, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The first answer of the two: the turn read back after its notice, or the update's. The update's failure still
 * fails the call unless the stored turn came first (then the reply is durable, whatever the update does next).
 */
function storedOrUpdated(update: Promise<TurnResult>, stored: Promise<TurnResult | undefined>): Promise<TurnResult> {
  return new Promise((resolve, reject) => {
    update.then(resolve, reject);
    stored.then(
      (turn) => turn && resolve(turn),
      () => undefined,
    );
  });
}
