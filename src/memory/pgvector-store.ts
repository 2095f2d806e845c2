/**
 * The semantic store of the embedded default: pgvector inside PGlite (any PostgreSQL with pgvector ≥ 0.8 works
 * too). One table per vector dimension, `memories_<dim>`, created on first use: an HNSW index needs a column of
 * fixed dimension, and the dimension is the configured embedder's. Switching embedders therefore starts a new,
 * empty table instead of mixing incomparable vectors.
 */
import type { Db, Queryable } from '../storage/db';
import { reciprocalRankFusion } from './fusion';
import { orTsQuery } from './lexical';
import type { MemoryHitRecord, MemoryRecord, SearchHit, SearchQuery, SemanticStore } from './types';

export interface PgvectorStoreOptions {
  dimensions: number;
  /** Table name prefix; the dimension is appended. Default `memories`. */
  tablePrefix?: string;
  /** Hybrid search fuses this many candidates per limit from each side. Default 4. */
  candidateFactor?: number;
  /** RRF constant of hybrid search. Default 60. */
  rrfK?: number;
}

interface MemoryRow {
  id: string;
  tenant_id: string;
  conversation_id: string;
  user_id: string;
  kind: MemoryHitRecord['kind'];
  source_id: string;
  seq: number | null;
  chunk: number;
  text: string;
  created_at: Date;
  score: number;
}

const COLUMNS = 'id, tenant_id, conversation_id, user_id, kind, source_id, seq, chunk, text, created_at';
// 11 parameters a row: well under PostgreSQL's 65,535 per statement.
const UPSERT_BATCH = 200;

/** A `SemanticStore` in one pgvector table per dimension; hybrid search fuses HNSW and full-text ranks by RRF. */
export class PgvectorStore implements SemanticStore {
  readonly kind = 'pgvector' as const;
  readonly table: string;
  private readonly dimensions: number;

  /** Uses `db` without owning it: `close()` leaves it open. */
  constructor(
    private readonly db: Db,
    private readonly opts: PgvectorStoreOptions,
  ) {
    const prefix = opts.tablePrefix ?? 'memories';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`pgvector store: bad table prefix ${prefix}`);
    if (!Number.isInteger(opts.dimensions) || opts.dimensions < 1 || opts.dimensions > 2000) {
      // HNSW indexes vectors of at most 2,000 dimensions.
      throw new Error(`pgvector store: dimensions must be 1..2000, got ${opts.dimensions}`);
    }
    this.dimensions = opts.dimensions;
    this.table = `${prefix}_${opts.dimensions}`;
  }

  async ensureReady(): Promise<void> {
    const t = this.table;
    await this.db.transaction(async (tx) => {
      // Two processes creating the same table at once would collide in the catalog; take turns.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`memoir:${t}`]);
      await tx.exec(`
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE IF NOT EXISTS ${t} (
          tenant_id       text        NOT NULL,
          id              text        NOT NULL,
          conversation_id text        NOT NULL,
          user_id         text        NOT NULL,
          kind            text        NOT NULL,
          source_id       text        NOT NULL,
          seq             bigint,
          chunk           integer     NOT NULL,
          text            text        NOT NULL,
          embedding       vector(${this.dimensions}) NOT NULL,
          created_at      timestamptz NOT NULL,
          PRIMARY KEY (tenant_id, id)
        );
        CREATE INDEX IF NOT EXISTS ${t}_embedding ON ${t} USING hnsw (embedding vector_cosine_ops);
        CREATE INDEX IF NOT EXISTS ${t}_fts ON ${t} USING gin (to_tsvector('english', text));
        CREATE INDEX IF NOT EXISTS ${t}_source ON ${t} (tenant_id, conversation_id, source_id);
        CREATE INDEX IF NOT EXISTS ${t}_user ON ${t} (tenant_id, user_id);`);
    });
  }

  async upsert(records: MemoryRecord[]): Promise<void> {
    // One statement may not update a row twice: the last record of an id wins, as with consecutive upserts.
    const unique = [...new Map(records.map((r) => [`${r.tenantId}\u0000${r.id}`, r])).values()];
    for (let i = 0; i < unique.length; i += UPSERT_BATCH) {
      const batch = unique.slice(i, i + UPSERT_BATCH);
      const params: unknown[] = [];
      const values = batch.map((r) => {
        const at = params.length;
        params.push(r.tenantId, r.id, r.conversationId, r.userId, r.kind, r.sourceId, r.seq, r.chunk, r.text);
        params.push(this.vectorLiteral(r.vector, r.id), r.createdAt);
        return `(${Array.from({ length: 11 }, (_, j) => `$${at + j + 1}${j === 9 ? '::vector' : ''}`).join(', ')})`;
      });
      await this.db.query(
        `INSERT INTO ${this.table}
           (tenant_id, id, conversation_id, user_id, kind, source_id, seq, chunk, text, embedding, created_at)
         VALUES ${values.join(', ')}
         ON CONFLICT (tenant_id, id) DO UPDATE SET conversation_id = EXCLUDED.conversation_id,
           user_id = EXCLUDED.user_id, kind = EXCLUDED.kind, source_id = EXCLUDED.source_id, seq = EXCLUDED.seq,
           chunk = EXCLUDED.chunk, text = EXCLUDED.text, embedding = EXCLUDED.embedding,
           created_at = EXCLUDED.created_at`,
        params,
      );
    }
  }

  async searchVector(q: SearchQuery): Promise<SearchHit[]> {
    return (await this.db.transaction((tx) => this.nearest(tx, q, q.limit))).map(toHit);
  }

  async searchHybrid(q: SearchQuery): Promise<SearchHit[]> {
    const candidates = Math.max(q.limit * (this.opts.candidateFactor ?? 4), 20);
    const [vector, lexical] = await this.db.transaction(async (tx) => [
      await this.nearest(tx, q, candidates),
      await this.matching(tx, q, candidates),
    ]);
    return reciprocalRankFusion([vector, lexical], {
      key: (r) => r.id,
      k: this.opts.rrfK ?? 60,
      limit: q.limit,
    }).map((f) => ({ record: toHit(f.item).record, score: f.score }));
  }

  async indexedSourceIds(tenantId: string, conversationId: string): Promise<Set<string>> {
    const rows = await this.db.query<{ source_id: string }>(
      `SELECT DISTINCT source_id FROM ${this.table} WHERE tenant_id = $1 AND conversation_id = $2`,
      [tenantId, conversationId],
    );
    return new Set(rows.map((r) => r.source_id));
  }

  async deleteConversation(tenantId: string, conversationId: string): Promise<number> {
    return this.deleteWhere('conversation_id', tenantId, conversationId);
  }

  async deleteUser(tenantId: string, userId: string): Promise<number> {
    return this.deleteWhere('user_id', tenantId, userId);
  }

  async close(): Promise<void> {}

  private async deleteWhere(column: 'conversation_id' | 'user_id', tenantId: string, value: string): Promise<number> {
    const rows = await this.db.query<{ n: number }>(
      `WITH gone AS (DELETE FROM ${this.table} WHERE tenant_id = $1 AND ${column} = $2 RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [tenantId, value],
    );
    return rows[0]?.n ?? 0;
  }

  // Nearest by cosine distance. Filters apply during the HNSW scan (iterative scan, pgvector 0.8): without it the
  // index would return its 40 nearest over all tenants and the filter could leave fewer than `limit` of them.
  private async nearest(tx: Queryable, q: SearchQuery, limit: number): Promise<MemoryRow[]> {
    await tx.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
    const { where, params } = filters(q, [this.vectorLiteral(q.vector, 'query')]);
    params.push(limit);
    // relaxed_order may return neighbours slightly out of order; the outer query sorts them exactly.
    return tx.query<MemoryRow>(
      `WITH nearest AS MATERIALIZED (
         SELECT ${COLUMNS}, embedding <=> $1::vector AS distance FROM ${this.table}
          WHERE ${where} ORDER BY distance LIMIT $${params.length})
       SELECT ${COLUMNS}, 1 - distance AS score FROM nearest ORDER BY distance`,
      params,
    );
  }

  // Full-text matches of the query's words, ranked like the lexical search over messages.
  private async matching(tx: Queryable, q: SearchQuery, limit: number): Promise<MemoryRow[]> {
    const tsquery = orTsQuery(q.text);
    if (tsquery === null) return [];
    const { where, params } = filters(q, [tsquery]);
    params.push(limit);
    return tx.query<MemoryRow>(
      `SELECT ${COLUMNS}, ts_rank_cd(to_tsvector('english', text), tq, 1) AS score
         FROM ${this.table}, to_tsquery('english', $1) AS tq
        WHERE ${where} AND to_tsvector('english', text) @@ tq
        ORDER BY score DESC, id LIMIT $${params.length}`,
      params,
    );
  }

  private vectorLiteral(v: number[], what: string): string {
    if (v.length !== this.dimensions) {
      throw new Error(
        `pgvector store: ${what} has a ${v.length}-dimensional vector; ${this.table} holds ${this.dimensions}`,
      );
    }
    if (!v.every(Number.isFinite)) throw new Error(`pgvector store: ${what} has a non-finite vector component`);
    return `[${v.join(',')}]`;
  }
}

function filters(q: SearchQuery, params: unknown[]): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    clauses.push(sql.replace('?', `$${params.length}`));
  };
  add('tenant_id = ?', q.tenantId);
  if (q.conversationId !== undefined) add('conversation_id = ?', q.conversationId);
  if (q.userId !== undefined) add('user_id = ?', q.userId);
  if (q.kinds !== undefined) add('kind = ANY(?::text[])', q.kinds);
  return { where: clauses.join(' AND '), params };
}

function toHit(r: MemoryRow): SearchHit {
  return {
    record: {
      id: r.id,
      tenantId: r.tenant_id,
      conversationId: r.conversation_id,
      userId: r.user_id,
      kind: r.kind,
      sourceId: r.source_id,
      seq: r.seq === null ? null : Number(r.seq),
      chunk: r.chunk,
      text: r.text,
      createdAt: r.created_at,
    },
    score: Number(r.score),
  };
}
