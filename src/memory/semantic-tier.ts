/**
 * The semantic tier as context assembly and indexing use it: chunk, embed and upsert messages and facts; recall
 * by hybrid search. Which store and which embedder sit behind it is configuration.
 */
import type { StoredMessage } from '../storage/conversations';
import { messageChunks } from './chunk';
import type { FactView } from './facts';
import {
  memoryRecordId,
  type Embedder,
  type MemoryKind,
  type MemoryRecord,
  type SearchHit,
  type SemanticStore,
} from './types';

export interface RecallQuery {
  tenantId: string;
  conversationId: string;
  text: string;
  limit: number;
  kinds?: MemoryKind[];
}

/**
 * Cached embeddings are kept per conversation, under its tenant's prefix (`<tenant>/<conversation>/…`): erasing a
 * conversation, a user (all their conversations) or a tenant each removes exactly its own entries.
 */
const cacheScope = (tenantId: string, conversationId: string) => `${tenantId}/${conversationId}`;

export class SemanticTier {
  constructor(
    readonly store: SemanticStore,
    readonly embedder: Embedder,
    /** What the index may keep of a text (redaction by policy). */
    private readonly forIndex: (text: string) => string = (t) => t,
    private readonly chunkTokens = 256,
  ) {}

  get description(): string {
    return `${this.store.kind} with the ${this.embedder.id} embedder`;
  }

  /** Chunks, embeds and upserts messages; returns how many records were written. Idempotent. */
  async indexMessages(
    scope: { tenantId: string; conversationId: string; userId: string },
    messages: StoredMessage[],
  ): Promise<number> {
    const records = messages.flatMap((m) =>
      messageChunks(
        { ...scope, messageId: m.messageId, seq: m.seq, content: this.forIndex(m.content), createdAt: m.createdAt },
        { maxTokens: this.chunkTokens },
      ),
    );
    return this.upsert(records);
  }

  async indexFacts(
    scope: { tenantId: string; conversationId: string; userId: string },
    facts: FactView[],
  ): Promise<number> {
    const records = facts.map((f) => {
      const base = { conversationId: scope.conversationId, kind: 'fact' as const, sourceId: f.factId, chunk: 0 };
      return {
        ...base,
        id: memoryRecordId(base),
        tenantId: scope.tenantId,
        userId: scope.userId,
        seq: null,
        text: this.forIndex(f.text),
        createdAt: new Date(),
      };
    });
    return this.upsert(records);
  }

  /** Forgets a tenant's cached embeddings (tenant erasure); returns how many shared-cache entries went. */
  async forgetTenant(tenantId: string): Promise<number> {
    return (await this.embedder.forgetScope?.(tenantId)) ?? 0;
  }

  /**
   * Forgets the cached embeddings of a conversation's texts (its erasure, and so its user's); returns how many
   * shared-cache entries went.
   */
  async forgetConversation(tenantId: string, conversationId: string): Promise<number> {
    return (await this.embedder.forgetScope?.(cacheScope(tenantId, conversationId))) ?? 0;
  }

  async recall(q: RecallQuery): Promise<SearchHit[]> {
    const [vector] = await this.embedder.embed([q.text], 'query', cacheScope(q.tenantId, q.conversationId));
    return this.store.searchHybrid({
      tenantId: q.tenantId,
      conversationId: q.conversationId,
      text: q.text,
      vector: vector!,
      limit: q.limit,
      ...(q.kinds ? { kinds: q.kinds } : {}),
    });
  }

  private async upsert(records: Omit<MemoryRecord, 'vector'>[]): Promise<number> {
    if (records.length === 0) return 0;
    // One scope per call: indexing works on one conversation at a time.
    const vectors = await this.embedder.embed(
      records.map((r) => r.text),
      'document',
      cacheScope(records[0]!.tenantId, records[0]!.conversationId),
    );
    await this.store.upsert(records.map((r, i) => ({ ...r, vector: vectors[i]! })));
    return records.length;
  }
}
