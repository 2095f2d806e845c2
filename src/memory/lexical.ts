/**
 * Lexical recall over stored messages with PostgreSQL full-text search; the same SQL runs on a PostgreSQL server
 * and on PGlite. Migration 002_message_search adds the GIN index on `to_tsvector('english', content)` that the
 * `@@` below uses (the expression must stay identical for the planner to pick it).
 *
 * The query is an OR of the question's content words, not `plainto_tsquery`'s AND: a question ("what did I say
 * about the quokka at the zoo?") shares only a word or two with the message it is after, and AND recalls nothing.
 * `ts_rank_cd` then ranks messages that match more of the words, closer together, first.
 */
import type { Queryable } from '../storage/db';

export interface LexicalQuery {
  tenantId: string;
  text: string;
  limit: number;
  /** Search one conversation; unset: every conversation of the tenant (narrow with `userId`). */
  conversationId?: string;
  /** Only conversations of this user. */
  userId?: string;
  /** Only messages before this sequence number (the recent ones are already in context). */
  beforeSeq?: number;
}

export interface LexicalHit {
  messageId: string;
  conversationId: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  /** ts_rank_cd, normalised by log length: comparable within one search only. */
  score: number;
}

// Enough words to cover any real question; a pasted essay as a query should not build a thousand-term OR.
const MAX_TERMS = 32;

/**
 * The query's words as a `to_tsquery` OR expression (`quokka | zoo | say`), or null when it has none. Words are
 * runs of letters and digits only, so nothing in them is tsquery syntax; the english configuration stems them and
 * drops stopwords exactly as it does for the indexed text.
 */
export function orTsQuery(text: string): string | null {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const terms = [...new Set(words.filter((w) => w.length > 1 || /\d/.test(w)))].slice(0, MAX_TERMS);
  return terms.length > 0 ? terms.join(' | ') : null;
}

interface LexicalRow {
  message_id: string;
  conversation_id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  score: number;
}

/** Messages matching any content word of the query, best first. */
export async function searchMessages(db: Queryable, q: LexicalQuery): Promise<LexicalHit[]> {
  const tsquery = orTsQuery(q.text);
  if (tsquery === null || q.limit <= 0) return [];
  const rows = await db.query<LexicalRow>(
    `SELECT m.message_id, m.conversation_id, m.seq, m.role, m.content,
            ts_rank_cd(to_tsvector('english', m.content), q.query, 1) AS score
       FROM messages m, to_tsquery('english', $2) AS q(query)
      WHERE m.tenant_id = $1
        AND to_tsvector('english', m.content) @@ q.query
        AND ($3::text IS NULL OR m.conversation_id = $3)
        AND ($4::bigint IS NULL OR m.seq < $4)
        AND ($5::text IS NULL OR EXISTS (
              SELECT 1 FROM conversations c
               WHERE c.tenant_id = m.tenant_id AND c.conversation_id = m.conversation_id AND c.user_id = $5))
      ORDER BY score DESC, m.seq DESC
      LIMIT $6`,
    [q.tenantId, tsquery, q.conversationId ?? null, q.beforeSeq ?? null, q.userId ?? null, q.limit],
  );
  return rows.map((r) => ({
    messageId: r.message_id,
    conversationId: r.conversation_id,
    seq: Number(r.seq),
    role: r.role,
    content: r.content,
    score: Number(r.score),
  }));
}
