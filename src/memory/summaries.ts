/**
 * Rolling summaries in PostgreSQL, versioned by the sequence range they cover. A version is either a full summary
 * (everything up to `toSeq`) or a segment (only what follows the previous version): the archive at a version is the
 * newest full summary at or before it plus every segment after that, oldest first (migration 011).
 */
import type { Db } from '../storage/db';
import type { FactView } from './facts';

export interface Summary {
  version: number;
  /** Every message up to and including this sequence number is folded into the summary. */
  toSeq: number;
  text: string;
  tokens: number;
  /** Tokens of what was folded (previous summary + messages): `sourceTokens / tokens` is the compression ratio. */
  sourceTokens: number;
  /** Facts active when this version was written. */
  facts: FactView[];
  model: string;
  createdAt: Date;
  /** A segment: summarises only the messages after the previous version (absent: a full summary). */
  segment?: boolean;
}

/** What the summary cache holds for a conversation: its current archive, oldest first, or that it has none. */
export type CachedArchive = { archive: Summary[] } | { none: true };

interface Row {
  version: number;
  to_seq: number;
  text: string;
  tokens: number;
  source_tokens: number;
  facts: FactView[];
  model: string;
  created_at: Date;
  segment?: boolean;
}

const toSummary = (r: Row): Summary => ({
  version: r.version,
  toSeq: r.to_seq,
  text: r.text,
  tokens: r.tokens,
  sourceTokens: r.source_tokens,
  facts: r.facts,
  model: r.model,
  createdAt: r.created_at,
  ...(r.segment ? { segment: true } : {}),
});

export class SummaryStore {
  constructor(private readonly db: Db) {}

  async latest(tenantId: string, conversationId: string): Promise<Summary | null> {
    const rows = await this.db.query<Row>(
      `SELECT * FROM summaries WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY version DESC LIMIT 1`,
      [tenantId, conversationId],
    );
    return rows[0] ? toSummary(rows[0]) : null;
  }

  async version(tenantId: string, conversationId: string, version: number): Promise<Summary | null> {
    const rows = await this.db.query<Row>(
      `SELECT * FROM summaries WHERE tenant_id = $1 AND conversation_id = $2 AND version = $3`,
      [tenantId, conversationId, version],
    );
    return rows[0] ? toSummary(rows[0]) : null;
  }

  /**
   * The archive at `version` (the newest when omitted): the newest full summary at or before it and the segments
   * after it, oldest first; empty when the conversation has no summary.
   */
  async archive(tenantId: string, conversationId: string, version?: number): Promise<Summary[]> {
    const rows = await this.db.query<Row>(
      `SELECT * FROM summaries s
        WHERE tenant_id = $1 AND conversation_id = $2 AND ($3::int IS NULL OR version <= $3)
          AND version >= coalesce((SELECT max(version) FROM summaries f
                                    WHERE f.tenant_id = $1 AND f.conversation_id = $2 AND NOT f.segment
                                      AND ($3::int IS NULL OR f.version <= $3)), 1)
        ORDER BY version`,
      [tenantId, conversationId, version ?? null],
    );
    return rows.map(toSummary);
  }

  /**
   * Stores a new version and marks the model call that wrote it as accepted, in one transaction. Returns false
   * when that version already exists (a retried activity): nothing is written twice.
   */
  async save(
    tenantId: string,
    conversationId: string,
    s: Omit<Summary, 'createdAt'>,
    llmCallId?: string,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO summaries (tenant_id, conversation_id, version, to_seq, text, tokens, source_tokens, facts, model,
                                segment)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING 1`,
        [
          tenantId,
          conversationId,
          s.version,
          s.toSeq,
          s.text,
          s.tokens,
          s.sourceTokens,
          JSON.stringify(s.facts),
          s.model,
          s.segment ?? false,
        ],
      );
      if (inserted.length === 0) return false;
      if (llmCallId) await markAccepted(tx, tenantId, conversationId, llmCallId);
      return true;
    });
  }
}

/** Marks a model call as kept and adds its usage to the conversation's totals (summary and facts calls). */
export async function markAccepted(
  tx: { query: Db['query'] },
  tenantId: string,
  conversationId: string,
  llmCallId: string,
): Promise<void> {
  const rows = await tx.query(
    `UPDATE llm_calls SET accepted = true WHERE call_id = $1 AND NOT accepted
     RETURNING input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens + cache_write_1h_tokens AS write, cost_usd`,
    [llmCallId],
  );
  const r = rows[0] as Record<string, number> | undefined;
  if (!r) return;
  await tx.query(
    `UPDATE conversations SET input_tokens = input_tokens + $3, output_tokens = output_tokens + $4,
       cache_read_tokens = cache_read_tokens + $5, cache_write_tokens = cache_write_tokens + $6, cost_usd = cost_usd + $7
     WHERE tenant_id = $1 AND conversation_id = $2`,
    [tenantId, conversationId, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.write, r.cost_usd],
  );
}
