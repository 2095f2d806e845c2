/**
 * Conversations and their messages in PostgreSQL: the source of truth for everything a conversation said.
 */
import type { Reply, TurnResult, Usage } from '../../workflows/contract';
import { ErasureTombstones, erasedSinceCondition, fenceTargets } from '../security/tombstones';
import type { Db, Queryable } from './db';
import { ledgerInsert, type LlmCallRow } from './llm-calls';

export interface ConversationRow {
  tenantId: string;
  conversationId: string;
  userId: string;
  systemPrompt: string | null;
  /** Tools the conversation may call (empty: text only). */
  tools: string[];
  turnCount: number;
  degradedReplies: number;
  totals: Usage;
  createdAt: Date;
  lastMessageAt: Date | null;
  /** Names of who speaks as the user and as the assistant, when the conversation was given them. */
  participants: Participants;
  /** Sequence number of the newest message (0 when there is none). */
  lastSeq: number;
}

import type { Participants } from '../../workflows/contract';
import type { StoredMessage } from '../client/ports';
export type { Participants };

// A stored message is what the client package reads (its port); the store returns exactly that shape.
export type { StoredMessage };

export interface TurnToPersist {
  tenantId: string;
  conversationId: string;
  /** `sentAt` (ISO 8601) dates the user message and its reply: the reply belongs to the exchange it answers. */
  userMessage: { messageId: string; content: string; sentAt?: string | undefined };
  reply: Reply;
  usage: Usage;
  /** The model call whose reply is kept; absent for a degraded reply. */
  llmCallId?: string;
  /** Every model call of a tool loop's steps (the last is `llmCallId`): all are accepted. */
  acceptedCallIds?: string[];
  /** What redaction took out of these messages, for audit (kind and keyed hash only). */
  redactions?: { messageId: string; stage: string; piiType: string; hash: string }[];
  /**
   * Read the erasure fence of the write-through in the same statement: `erased` then says whether the conversation
   * (its owner, or its tenant) was erased at or after this time (an activity attempt's scheduling), a round trip less.
   */
  fenceSince?: Date;
  /**
   * The ledger row of the call that answered, not yet written: it is inserted by the same statement (one flush for
   * both), accepted when the turn is. The row is written even when the turn is not (stored before, or the
   * conversation gone); when the statement fails, the caller writes the row alone (activities/generate-reply.ts).
   */
  ledger?: LlmCallRow;
}

export interface PersistedTurn {
  userSeq: number;
  replySeq: number;
  /** False when this turn was already stored (a retried activity): nothing was written. */
  inserted: boolean;
  /**
   * With `fenceSince`: the conversation, its owner or its tenant was erased since then (its cache entries must not
   * be written back).
   */
  erased?: boolean;
}

interface ConversationDbRow {
  tenant_id: string;
  conversation_id: string;
  user_id: string;
  system_prompt: string | null;
  tools?: string[] | null;
  turn_count: number;
  degraded_replies: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  created_at: Date;
  last_message_at: Date | null;
  next_seq: number;
  user_name: string | null;
  assistant_name: string | null;
}

interface MessageDbRow {
  message_id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  created_at: Date;
  sent_at: Date | null;
  in_reply_to: string | null;
  model: string | null;
  degraded: boolean;
}

type UsageColumns = 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens' | 'cost_usd';

const usageOf = (r: Pick<ConversationDbRow, UsageColumns>): Usage => ({
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cacheReadTokens: r.cache_read_tokens,
  cacheWriteTokens: r.cache_write_tokens,
  costUsd: r.cost_usd,
});

const toConversation = (r: ConversationDbRow): ConversationRow => ({
  tenantId: r.tenant_id,
  conversationId: r.conversation_id,
  userId: r.user_id,
  systemPrompt: r.system_prompt,
  tools: r.tools ?? [],
  turnCount: r.turn_count,
  degradedReplies: r.degraded_replies,
  totals: usageOf(r),
  createdAt: r.created_at,
  lastMessageAt: r.last_message_at,
  lastSeq: r.next_seq - 1,
  participants: {
    ...(r.user_name ? { user: r.user_name } : {}),
    ...(r.assistant_name ? { assistant: r.assistant_name } : {}),
  },
});

const toMessage = (r: MessageDbRow): StoredMessage => ({
  messageId: r.message_id,
  seq: r.seq,
  role: r.role,
  content: r.content,
  createdAt: r.created_at,
  sentAt: r.sent_at,
  inReplyTo: r.in_reply_to,
  model: r.model,
  degraded: r.degraded,
});

type ReplyDbRow = MessageDbRow & {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
};

/** Owner of a conversation started by a message that named no user. */
export { ANONYMOUS_USER } from '../../workflows/contract';

/** What a stored answer's row holds for a turn's result. */
type AnswerDbRow = Pick<ReplyDbRow, 'message_id' | 'content' | 'model' | 'degraded' | UsageColumns>;

/** A stored answer as a turn's result, its text opened. */
const turnResult = (messageId: string, r: AnswerDbRow, content: string): TurnResult => ({
  messageId,
  reply: { messageId: r.message_id, content, model: r.model ?? '', degraded: r.degraded },
  usage: usageOf(r),
});

/** The columns of a stored answer, as `withAnswer` selects them beside its conversation's (`answer_` + name). */
const ANSWER_COLUMNS = [
  'message_id',
  'content',
  'model',
  'degraded',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cost_usd',
]
  .map((c) => `m.${c} AS answer_${c}`)
  .join(', ');

/** The answer's columns of a `withAnswer` row without their prefix; undefined when the message has no answer. */
function answerOf(row: Record<string, unknown>): AnswerDbRow | undefined {
  if (row.answer_message_id === null) return undefined;
  const entries = Object.entries(row).filter(([k]) => k.startsWith('answer_'));
  return Object.fromEntries(entries.map(([k, v]) => [k.slice('answer_'.length), v])) as unknown as AnswerDbRow;
}

const MESSAGE_COLUMNS = 'message_id, seq, role, content, created_at, sent_at, in_reply_to, model, degraded';

/**
 * How message text is stored: encrypted under the conversation's key scope when MEMOIR_ENCRYPT_AT_REST is on
 * (src/codec/at-rest.ts), and read back whichever way it was written.
 */
export interface MessageSealer {
  seal(tenantId: string, userId: string, text: string): Promise<string>;
  /** The text of a value stored in a row of `tenantId` (a key outside that tenant is refused). */
  open(tenantId: string, stored: string): Promise<string>;
  /** A digest of `text` keyed by the owner's data key: names a stored text without revealing equal ones. */
  digest(tenantId: string, userId: string, text: string): Promise<string>;
}

export class ConversationStore {
  constructor(
    private readonly db: Db,
    private readonly sealer?: MessageSealer,
  ) {}

  private async text(tenantId: string, stored: string): Promise<string> {
    return this.sealer ? this.sealer.open(tenantId, stored) : stored;
  }

  private messages(tenantId: string, rows: MessageDbRow[]): Promise<StoredMessage[]> {
    return Promise.all(rows.map(async (r) => ({ ...toMessage(r), content: await this.text(tenantId, r.content) })));
  }

  /**
   * Creates the conversation; returns false when it already exists. Its system prompt may hold personal data: it
   * is sealed for its owner like message text.
   */
  async create(
    tenantId: string,
    conversationId: string,
    userId: string,
    systemPrompt?: string,
    extra: { tools?: string[] | undefined; participants?: Participants | undefined } = {},
  ): Promise<boolean> {
    const stored =
      systemPrompt === undefined
        ? null
        : this.sealer
          ? await this.sealer.seal(tenantId, userId, systemPrompt)
          : systemPrompt;
    const { tools = [], participants = {} } = extra;
    const rows = await this.db.query(
      `INSERT INTO conversations (tenant_id, conversation_id, user_id, system_prompt, tools, user_name, assistant_name)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1`,
      [tenantId, conversationId, userId, stored, tools, participants.user ?? null, participants.assistant ?? null],
    );
    return rows.length === 1;
  }

  async get(tenantId: string, conversationId: string): Promise<ConversationRow | null> {
    const rows = await this.db.query<ConversationDbRow>(
      'SELECT * FROM conversations WHERE tenant_id = $1 AND conversation_id = $2',
      [tenantId, conversationId],
    );
    return rows[0] ? this.opened(tenantId, rows[0]) : null;
  }

  /** A conversation's row with its system prompt opened. */
  private async opened(tenantId: string, row: ConversationDbRow): Promise<ConversationRow> {
    const systemPrompt = row.system_prompt === null ? null : await this.text(tenantId, row.system_prompt);
    return { ...toConversation(row), systemPrompt };
  }

  /** The conversation's owner, or undefined when it has no row (reads no text, so opens no key). */
  async owner(tenantId: string, conversationId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ user_id: string }>(
      'SELECT user_id FROM conversations WHERE tenant_id = $1 AND conversation_id = $2',
      [tenantId, conversationId],
    );
    return rows[0]?.user_id;
  }

  /** The conversation as stored, created first if this is its first message. */
  async open(
    tenantId: string,
    conversationId: string,
    userId: string,
    systemPrompt?: string,
    tools: string[] = [],
  ): Promise<ConversationRow> {
    await this.create(tenantId, conversationId, userId, systemPrompt, { tools });
    const row = await this.get(tenantId, conversationId);
    if (!row) throw new Error(`conversation ${tenantId}/${conversationId} vanished while opening`);
    return row;
  }

  /**
   * The conversation and the stored answer to `messageId` (as `get` and `findTurn`), in one statement: a turn's
   * context step reads both before anything else.
   */
  async withAnswer(
    tenantId: string,
    conversationId: string,
    messageId: string,
  ): Promise<{ conversation: ConversationRow | null; answered: TurnResult | null }> {
    const rows = await this.db.query<ConversationDbRow>(
      `SELECT c.*, ${ANSWER_COLUMNS}
         FROM conversations c
         LEFT JOIN messages m
           ON m.tenant_id = c.tenant_id AND m.conversation_id = c.conversation_id AND m.in_reply_to = $3
        WHERE c.tenant_id = $1 AND c.conversation_id = $2`,
      [tenantId, conversationId, messageId],
    );
    const r = rows[0];
    if (!r) return { conversation: null, answered: null };
    const answer = answerOf(r as unknown as Record<string, unknown>);
    const [conversation, answered] = await Promise.all([
      this.opened(tenantId, r),
      answer ? this.text(tenantId, answer.content).then((content) => turnResult(messageId, answer, content)) : null,
    ]);
    return { conversation, answered };
  }

  /** The stored answer to a user message, if that message was already handled. */
  async findTurn(tenantId: string, conversationId: string, messageId: string): Promise<TurnResult | null> {
    const rows = await this.db.query<ReplyDbRow>(
      `SELECT ${MESSAGE_COLUMNS}, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd
         FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND in_reply_to = $3`,
      [tenantId, conversationId, messageId],
    );
    const r = rows[0];
    return r ? turnResult(messageId, r, await this.text(tenantId, r.content)) : null;
  }

  /**
   * What a message needs before it is sent, in one round trip: the conversation's row, created when it has none (as
   * `create` with no prompt and no tools; a no-op when it exists), and the text stored under `messageId` as a user
   * message, or null.
   */
  async openForMessage(
    tenantId: string,
    conversationId: string,
    userId: string,
    messageId: string,
  ): Promise<string | null> {
    const rows = await this.db.query<{ content: string }>(
      `WITH created AS (
         INSERT INTO conversations (tenant_id, conversation_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
       )
       SELECT content FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $4 AND role = 'user'`,
      [tenantId, conversationId, userId, messageId],
    );
    return rows[0] ? this.text(tenantId, rows[0].content) : null;
  }

  /** The text of a stored user message, or null. */
  async userMessage(tenantId: string, conversationId: string, messageId: string): Promise<string | null> {
    const rows = await this.db.query<{ content: string }>(
      `SELECT content FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3 AND role = 'user'`,
      [tenantId, conversationId, messageId],
    );
    return rows[0] ? this.text(tenantId, rows[0].content) : null;
  }

  /** The newest `limit` messages, oldest first. */
  async recent(tenantId: string, conversationId: string, limit: number): Promise<StoredMessage[]> {
    const rows = await this.db.query<MessageDbRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2
        ORDER BY seq DESC LIMIT $3`,
      [tenantId, conversationId, limit],
    );
    return this.messages(tenantId, rows.reverse());
  }

  /** A page of messages older than `beforeSeq` (or the newest page), oldest first. */
  async page(tenantId: string, conversationId: string, limit: number, beforeSeq?: number): Promise<StoredMessage[]> {
    const rows = await this.db.query<MessageDbRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND seq < $3
        ORDER BY seq DESC LIMIT $4`,
      [tenantId, conversationId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return this.messages(tenantId, rows.reverse());
  }

  /** Messages with `fromSeq <= seq <= toSeq`, oldest first. */
  async range(tenantId: string, conversationId: string, fromSeq: number, toSeq: number): Promise<StoredMessage[]> {
    const rows = await this.db.query<MessageDbRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND seq BETWEEN $3 AND $4
        ORDER BY seq`,
      [tenantId, conversationId, fromSeq, toSeq],
    );
    return this.messages(tenantId, rows);
  }

  /** The oldest messages not yet in the semantic index. */
  async unindexed(tenantId: string, conversationId: string, limit: number): Promise<StoredMessage[]> {
    const rows = await this.db.query<MessageDbRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND indexed_at IS NULL
        ORDER BY seq LIMIT $3`,
      [tenantId, conversationId, limit],
    );
    return this.messages(tenantId, rows);
  }

  async markIndexed(tenantId: string, conversationId: string, seqs: number[]): Promise<void> {
    await this.db.query(
      'UPDATE messages SET indexed_at = now() WHERE tenant_id = $1 AND conversation_id = $2 AND seq = ANY($3::bigint[])',
      [tenantId, conversationId, seqs],
    );
  }

  /** Up to which sequence number facts have been extracted. */
  async factsThrough(tenantId: string, conversationId: string): Promise<number> {
    const rows = await this.db.query<{ facts_through_seq: number }>(
      'SELECT facts_through_seq FROM conversations WHERE tenant_id = $1 AND conversation_id = $2',
      [tenantId, conversationId],
    );
    return rows[0]?.facts_through_seq ?? 0;
  }

  /** The sequence number of the newest message (0 when there is none). */
  async lastSeq(tenantId: string, conversationId: string): Promise<number> {
    const rows = await this.db.query<{ next_seq: number }>(
      'SELECT next_seq FROM conversations WHERE tenant_id = $1 AND conversation_id = $2',
      [tenantId, conversationId],
    );
    return rows[0] ? rows[0].next_seq - 1 : 0;
  }

  /** Messages by id, oldest first; ids not found are left out. */
  async byMessageIds(tenantId: string, conversationId: string, messageIds: string[]): Promise<StoredMessage[]> {
    if (messageIds.length === 0) return [];
    const rows = await this.db.query<MessageDbRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2
          AND message_id = ANY($3::text[]) ORDER BY seq`,
      [tenantId, conversationId, messageIds],
    );
    return this.messages(tenantId, rows);
  }

  async bySeq(tenantId: string, conversationId: string, seqs: number[]): Promise<StoredMessage[]> {
    if (seqs.length === 0) return [];
    const rows = await this.db.query<MessageDbRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND seq = ANY($3::bigint[])
        ORDER BY seq`,
      [tenantId, conversationId, seqs],
    );
    return this.messages(tenantId, rows);
  }

  /**
   * Stores a user message and its reply, with the next two sequence numbers, and adds the turn to the
   * conversation's totals — in one statement, so one round trip on the turn's path (a statement is its own
   * transaction). Idempotent: a second call for the same user message writes nothing.
   */
  async persistTurn(turn: TurnToPersist): Promise<PersistedTurn> {
    const { tenantId, conversationId, userMessage, reply, usage } = turn;
    // Sealed first: sealing may fetch a data key from the database. Without sealing (the default) the owner is not
    // needed, and the turn's path keeps its one round trip.
    const sealer = this.sealer;
    let owner: string | undefined;
    let [userText, replyText] = [userMessage.content, reply.content];
    if (sealer) {
      owner = await this.owner(tenantId, conversationId);
      if (owner === undefined) throw new ConversationMissingError(tenantId, conversationId);
      const sealedFor = owner;
      [userText, replyText] = await Promise.all([
        sealer.seal(tenantId, sealedFor, userMessage.content),
        sealer.seal(tenantId, sealedFor, reply.content),
      ]);
    }
    const redactions = turn.redactions ?? [];
    // Parameters $1–$21 are the turn's, the ledger row's follow. A data-modifying CTE runs whatever the final SELECT
    // reads, so the row is written even for a missing conversation; it is accepted only with a turn it inserted
    // (the `accepted` CTE cannot mark it: sibling CTEs do not see each other's rows).
    const ledger = turn.ledger ? ledgerInsert(turn.ledger, 24, 'EXISTS (SELECT 1 FROM new_user)') : undefined;
    // $22–$23: the erasure fence's targets and time, read by the final SELECT (NULL: not asked, reads nothing). The
    // owner's target comes from the locked row: a user's erasure records `u/<userId>` first and reaches each of their
    // conversations (`c/…`, then its deletion) one after another, so a turn stored in between would otherwise write
    // its cache entries back unfenced, racing the erasure of its conversation's caches that comes later.
    const fence = `$23::timestamptz IS NOT NULL AND EXISTS (SELECT 1 FROM erasures WHERE ${erasedSinceCondition(1, 22, 23, 'conv.user_id')})`;
    // `conv` locks the conversation row: it serialises writers of this conversation and hands out the sequence
    // numbers (a writer that waited reads the row as the one before it left it). The user message goes first; when
    // an earlier attempt stored it already, nothing else is written. Texts sealed for another owner (erased and
    // recreated in between) are not written at all.
    const rows = await this.db.query<{ next_seq: number; user_id: string; inserted: number; erased: boolean }>(
      `WITH conv AS (
         SELECT next_seq, user_id FROM conversations WHERE tenant_id = $1 AND conversation_id = $2 FOR UPDATE
       ), new_user AS (
         INSERT INTO messages (tenant_id, conversation_id, seq, message_id, role, content, sent_at)
         SELECT $1, $2, conv.next_seq, $3, 'user', $4, $20::timestamptz FROM conv
          WHERE $21::text IS NULL OR conv.user_id = $21::text
         ON CONFLICT (tenant_id, conversation_id, message_id) DO NOTHING
         RETURNING seq
       ), new_reply AS (
         INSERT INTO messages (tenant_id, conversation_id, seq, message_id, role, content, in_reply_to, model,
           degraded, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, sent_at)
         SELECT $1, $2, seq + 1, $5, 'assistant', $6, $3, $7, $8, $9, $10, $11, $12, $13, $20::timestamptz
           FROM new_user
       ), totals AS (
         UPDATE conversations SET next_seq = next_seq + 2, turn_count = turn_count + 1,
           input_tokens = input_tokens + $9, output_tokens = output_tokens + $10,
           cache_read_tokens = cache_read_tokens + $11, cache_write_tokens = cache_write_tokens + $12,
           cost_usd = cost_usd + $13, degraded_replies = degraded_replies + $14, last_message_at = now()
         WHERE tenant_id = $1 AND conversation_id = $2 AND EXISTS (SELECT 1 FROM new_user)
       ), accepted AS (
         UPDATE llm_calls SET accepted = true WHERE call_id = ANY($15::text[]) AND EXISTS (SELECT 1 FROM new_user)
       ), audit AS (
         INSERT INTO redactions (tenant_id, conversation_id, message_id, stage, pii_type, value_hash)
         SELECT $1, $2, r.message_id, r.stage, r.pii_type, r.value_hash
           FROM unnest($16::text[], $17::text[], $18::text[], $19::text[]) AS r(message_id, stage, pii_type, value_hash)
          WHERE EXISTS (SELECT 1 FROM new_user)
       )${ledger ? `, ledger AS (${ledger.sql})` : ''}
       SELECT conv.next_seq, conv.user_id, (SELECT count(*)::int FROM new_user) AS inserted, ${fence} AS erased
         FROM conv`,
      [
        tenantId,
        conversationId,
        userMessage.messageId,
        userText,
        reply.messageId,
        replyText,
        reply.model,
        reply.degraded,
        usage.inputTokens,
        usage.outputTokens,
        usage.cacheReadTokens,
        usage.cacheWriteTokens,
        usage.costUsd,
        reply.degraded ? 1 : 0,
        turn.acceptedCallIds ?? (turn.llmCallId ? [turn.llmCallId] : []),
        redactions.map((r) => r.messageId),
        redactions.map((r) => r.stage),
        redactions.map((r) => r.piiType),
        redactions.map((r) => r.hash),
        userMessage.sentAt ?? null,
        owner ?? null,
        fenceTargets({ tenantId, conversationId }),
        turn.fenceSince ?? null,
        ...(ledger?.params ?? []),
      ],
    );
    const row = rows[0];
    if (!row) throw new ConversationMissingError(tenantId, conversationId);
    if (row.inserted === 1) {
      return {
        userSeq: row.next_seq,
        replySeq: row.next_seq + 1,
        inserted: true,
        ...(turn.fenceSince ? { erased: row.erased } : {}),
      };
    }
    // Erased and recreated for someone else in between: the texts were sealed for the wrong owner; retry.
    if (owner !== undefined && row.user_id !== owner)
      throw new Error(`conversation ${tenantId}/${conversationId} changed owner`);
    const existing = await existingTurn(this.db, tenantId, conversationId, userMessage.messageId);
    if (!existing) throw new Error(`turn ${userMessage.messageId} was neither written nor found`);
    return { ...existing, inserted: false };
  }

  /** Whether the conversation, its owner or its tenant was erased at or after `since` (erasure tombstones). */
  async erasedSince(
    scope: { tenantId: string; conversationId: string; userId?: string | undefined },
    since: Date,
  ): Promise<boolean> {
    return new ErasureTombstones(this.db).erasedSince(scope, since);
  }

  /** Deletes the conversation and everything stored under it; returns false when there was nothing. */
  async delete(tenantId: string, conversationId: string): Promise<boolean> {
    const rows = await this.db.query(
      'DELETE FROM conversations WHERE tenant_id = $1 AND conversation_id = $2 RETURNING 1',
      [tenantId, conversationId],
    );
    return rows.length === 1;
  }
}

async function existingTurn(
  tx: Queryable,
  tenantId: string,
  conversationId: string,
  messageId: string,
): Promise<Omit<PersistedTurn, 'inserted'> | null> {
  const rows = await tx.query<{ user_seq: number; reply_seq: number | null }>(
    `SELECT u.seq AS user_seq, a.seq AS reply_seq FROM messages u
       LEFT JOIN messages a ON a.tenant_id = u.tenant_id AND a.conversation_id = u.conversation_id
                           AND a.in_reply_to = u.message_id
      WHERE u.tenant_id = $1 AND u.conversation_id = $2 AND u.message_id = $3`,
    [tenantId, conversationId, messageId],
  );
  const r = rows[0];
  return r ? { userSeq: r.user_seq, replySeq: r.reply_seq ?? r.user_seq } : null;
}

export class ConversationMissingError extends Error {
  constructor(
    readonly tenantId: string,
    readonly conversationId: string,
  ) {
    super(`conversation ${tenantId}/${conversationId} does not exist (deleted?)`);
    this.name = 'ConversationMissingError';
  }
}
