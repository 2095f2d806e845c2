/**
 * What `MemoirClient` needs from the server side, as narrow interfaces: the client package (`@memoir/client`,
 * packages/client) ships this code without the server's storage, memory or context modules, so nothing here may
 * import them. The server's `ConversationStore`, `ManifestStore` and `ContextAssembler` satisfy these
 * structurally; an application with only a Temporal connection passes none of them.
 */
import type { ConversationInput, ConversationOutcome, TurnResult, Usage } from '../../workflows/contract';
import type { Participants } from '../../workflows/contract';

/** The conversation workflow's signature, for typed handles (workflows/conversation.ts implements it). */
export type ConversationWorkflow = (input: ConversationInput) => Promise<ConversationOutcome>;

/** Maps a tenant's user id to the value of its `UserId` search attribute (a keyed hash, never the id). */
export type UserSearchKey = (tenantId: string, userId: string) => string;

/** A stored message, as `messages()` returns it. */
export interface StoredMessage {
  messageId: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  createdAt: Date;
  /** When it was said, when the sender said so; null or absent: when it was stored. */
  sentAt?: Date | null;
  inReplyTo: string | null;
  model: string | null;
  degraded: boolean;
}

/** The parts of a conversation's database row the client reads. */
export interface ConversationRecord {
  userId: string;
  turnCount: number;
  degradedReplies: number;
  totals: Usage;
  lastMessageAt: Date | null;
}

/**
 * Hears that the answer to a message was stored (the server's `TurnNotices`, over PostgreSQL's LISTEN/NOTIFY).
 * `stored` may never resolve: a notice can be lost, and the update still brings the reply.
 */
export interface StoredTurnNotices {
  watch(turn: { tenantId: string; conversationId: string; messageId: string }): {
    stored: Promise<void>;
    cancel(): void;
  };
}

/** Read access (and the idempotent create) on PostgreSQL's conversations. */
export interface ConversationReader {
  /** Creates the row with the conversation's tools; false when it already exists. */
  create(
    tenantId: string,
    conversationId: string,
    userId: string,
    systemPrompt?: string,
    extra?: { tools?: string[] | undefined; participants?: Participants | undefined },
  ): Promise<boolean>;
  get(tenantId: string, conversationId: string): Promise<ConversationRecord | null>;
  page(tenantId: string, conversationId: string, limit: number, beforeSeq?: number): Promise<StoredMessage[]>;
  /**
   * Before a message is sent: creates the row (as `create` with no prompt and no tools; a no-op when it exists) and
   * returns the stored form of the user message `messageId`, or null when no message has that id.
   */
  openForMessage(tenantId: string, conversationId: string, userId: string, messageId: string): Promise<string | null>;
  /** The stored answer to the user message `messageId` (reply and usage), or null when it has none yet. */
  findTurn(tenantId: string, conversationId: string, messageId: string): Promise<TurnResult | null>;
}

/**
 * A context manifest: what went into the model call of one turn. The server's type (src/storage/manifests.ts)
 * has more fields, all returned as they are; these are the ones every version has.
 */
export interface ContextManifestView {
  messageId: string;
  turn: number;
  budgetTokens: number;
  usedTokens: number;
  degradedTiers: string[];
}

export interface ManifestReader {
  get(tenantId: string, conversationId: string, messageId: string): Promise<ContextManifestView | null>;
}

/** The recall gate's signal and verdict on one assembly. */
export interface RecallGateView {
  score: number;
  threshold: number;
  open: boolean;
  mode: 'turn' | 'fill';
}

/** Context assembly, for previews. */
export interface ContextPreviewer {
  assemble(input: {
    tenantId: string;
    conversationId: string;
    messageId: string;
    userContent: string;
    turn: number;
    budgetTokens?: number;
    recall?: { topK?: number | undefined; share?: number | undefined };
    /** `fill`: recall fills the budget (a preview with an explicit budget); `turn`: gated, top k, as a turn gets. */
    recallMode?: 'turn' | 'fill';
  }): Promise<{
    manifest: {
      budgetTokens: number;
      usedTokens: number;
      degradedTiers: string[];
      recallGate?: RecallGateView;
    };
    blocks: { tier: string; tokens: number; text: string; sourceIds: string[] }[];
  }>;
}
