/**
 * Lexical recall over stored messages with PostgreSQL full-text search; the same SQL runs on a PostgreSQL server
 * and on PGlite. Migration 012_message_tsv stores each message's `to_tsvector('english', content)` as `content_tsv`
 * (GIN-indexed): a turn's search reads the lexemes rather than re-running the parser over every message.
 *
 * The query is an OR of the question's content words, not `plainto_tsquery`'s AND: a question ("what did I say
 * about the quokka at the zoo?") shares only a word or two with the message it is after, and AND recalls nothing.
 * BM25 then ranks the matches: rare words count for more than common ones, repeated words with diminishing returns.
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
  /** BM25 score: comparable within one search only. */
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
  // Okapi BM25 over the searched messages (k1 = 1.2, b = 0.75). A document's length is its number of indexed
  // tokens (every position of every lexeme, not the count of distinct lexemes), and the average length is taken
  // over the whole scope (every message of the conversation, not only the matches: averaging over the matches
  // makes long matching messages look short). Term frequencies are a lexeme's positions in the message; document
  // frequencies come from the matches, which hold every message containing a query lexeme; N is the whole scope.
  // Lengths are stored per message (migration 007_message_lengths), so the average is a cheap aggregate.
  const filters = `m.tenant_id = $1
          AND ($3::text IS NULL OR m.conversation_id = $3)
          AND ($4::bigint IS NULL OR m.seq < $4)
          AND ($5::text IS NULL OR EXISTS (
                SELECT 1 FROM conversations c
                 WHERE c.tenant_id = m.tenant_id AND c.conversation_id = m.conversation_id AND c.user_id = $5))`;
  const rows = await db.query<LexicalRow>(
    `WITH terms AS (SELECT array_agg(DISTINCT lexeme) AS lexemes FROM unnest(to_tsvector('english', $7))),
     candidates AS (
       SELECT m.message_id, m.conversation_id, m.seq, m.role, m.content, m.content_tokens, m.content_tsv AS tsv
         FROM messages m
        WHERE ${filters} AND m.content_tsv @@ to_tsquery('english', $2)),
     scope AS (
       SELECT count(*)::float8 AS n, greatest(avg(m.content_tokens), 1)::float8 AS avgdl
         FROM messages m WHERE ${filters}),
     matches AS (
       SELECT c.conversation_id, c.seq, u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS tf,
              c.content_tokens::float8 AS dl
         -- Only the query's lexemes of each candidate, with their positions: marked (weight A, all others keep D)
         -- and kept by ts_filter, rather than unnesting every lexeme of every candidate and comparing each.
         FROM candidates c, terms, unnest(ts_filter(setweight(c.tsv, 'A', terms.lexemes), '{a}')) u),
     df AS (SELECT lexeme, count(*)::float8 AS df FROM matches GROUP BY lexeme),
     scored AS (
       SELECT m.conversation_id, m.seq,
              sum(ln(1 + (scope.n - df.df + 0.5) / (df.df + 0.5))
                  * m.tf * 2.2 / (m.tf + 1.2 * (0.25 + 0.75 * m.dl / scope.avgdl))) AS score
         FROM matches m JOIN df USING (lexeme), scope
        GROUP BY m.conversation_id, m.seq)
     SELECT c.message_id, c.conversation_id, c.seq, c.role, c.content, scored.score
       FROM scored JOIN candidates c USING (conversation_id, seq)
      ORDER BY scored.score DESC, c.seq DESC
      LIMIT $6`,
    [q.tenantId, tsquery, q.conversationId ?? null, q.beforeSeq ?? null, q.userId ?? null, q.limit, q.text],
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
