/**
 * The semantic tier of Memoir's memory: embedders turn text into vectors, and a semantic store keeps message
 * chunks (and later facts and summaries) with their vectors for recall. Two stores implement one interface —
 * Weaviate for server deployments, pgvector inside PGlite for the embedded default — so context assembly never
 * knows which one it talks to.
 */

/** Which side of a retrieval a text is on. Asymmetric models (Voyage) embed the two differently. */
export type EmbedKind = 'query' | 'document';

/** Turns texts into vectors of a fixed dimension, in input order. */
export interface Embedder {
  /** Names the model and dimension: vectors from different ids are not comparable (it keys the cache). */
  readonly id: string;
  readonly dimensions: number;
  /**
   * `cacheScope` (`<tenant>/<conversation>` from the semantic tier) keeps cached vectors apart: one tenant's text
   * is never answered from another's cache entry, and `forgetScope` can erase a conversation's or a whole tenant's
   * entries. Embedders without a cache ignore it.
   */
  embed(texts: string[], kind: EmbedKind, cacheScope?: string): Promise<number[][]>;
  /** Drops every cached vector under a scope prefix (erasure); returns how many shared-cache entries went. */
  forgetScope?(cacheScope: string): Promise<number>;
}

export type MemoryKind = 'message' | 'fact' | 'summary';

/** One indexed piece of text: a message chunk, a fact or a summary. */
export interface MemoryRecord {
  /** Unique within the tenant; `memoryRecordId` builds it. Upserting the same id replaces the record. */
  id: string;
  tenantId: string;
  conversationId: string;
  userId: string;
  kind: MemoryKind;
  /** What the text came from: the message id for a message chunk. */
  sourceId: string;
  /** The message's sequence number in its conversation; null for records that are not one message. */
  seq: number | null;
  /** 0-based chunk number within the source. */
  chunk: number;
  text: string;
  vector: number[];
  createdAt: Date;
}

export interface SearchQuery {
  tenantId: string;
  conversationId?: string;
  userId?: string;
  kinds?: MemoryKind[];
  /** The query text: used by the lexical half of hybrid search. */
  text: string;
  /** The query embedded with kind `query`. */
  vector: number[];
  limit: number;
}

export type MemoryHitRecord = Omit<MemoryRecord, 'vector'>;

export interface SearchHit {
  record: MemoryHitRecord;
  /** Higher is better. Cosine similarity for vector search; the store's fused score for hybrid search. */
  score: number;
}

export interface SemanticStore {
  readonly kind: 'weaviate' | 'pgvector';
  /** Creates the collection or table if missing. Safe to call from several processes at once. */
  ensureReady(): Promise<void>;
  /** Inserts or replaces records by id. */
  upsert(records: MemoryRecord[]): Promise<void>;
  searchVector(q: SearchQuery): Promise<SearchHit[]>;
  /** The store's own hybrid: Weaviate hybrid with alpha; pgvector: vector and full-text fused by RRF. */
  searchHybrid(q: SearchQuery): Promise<SearchHit[]>;
  /** Source ids with at least one record in the conversation: what a catch-up after an outage can skip. */
  indexedSourceIds(tenantId: string, conversationId: string): Promise<Set<string>>;
  /** Deletes every record of the conversation; returns how many records went. */
  deleteConversation(tenantId: string, conversationId: string): Promise<number>;
  /** Deletes every record of the user in the tenant; returns how many records went. */
  deleteUser(tenantId: string, userId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * The id of a record: the conversation, the kind and the source make it unique within a tenant (message ids are
 * unique only within their conversation), the chunk number within its source.
 */
export function memoryRecordId(r: Pick<MemoryRecord, 'conversationId' | 'kind' | 'sourceId' | 'chunk'>): string {
  return `${r.conversationId}/${r.kind}/${r.sourceId}#${r.chunk}`;
}
