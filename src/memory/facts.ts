/**
 * Facts, preferences and decisions extracted from a conversation, deduplicated by subject: the same statement
 * again is stored once; a different statement about the same subject supersedes the old one, unless the subject
 * holds several values at once (hobbies, trips: `multiValued`), where the values coexist.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../storage/db';
import { markAccepted } from './summaries';

export const extractedFactSchema = z.object({
  kind: z.enum(['fact', 'preference', 'decision']),
  /** What the fact is about, short and stable ("name", "budget", "favourite food"). */
  subject: z.string().min(1).max(120),
  text: z.string().min(1).max(1000),
  sourceMessageIds: z.array(z.string()).max(50).default([]),
  /** The subject holds several values at once (hobbies, trips): a new value joins the old ones, not replaces them. */
  multiValued: z.boolean().optional(),
});
export const extractionSchema = z.object({ facts: z.array(extractedFactSchema).max(100) });
export type ExtractedFact = z.infer<typeof extractedFactSchema>;

/** A fact as the prompt and the manifest show it. */
export interface FactView {
  factId: string;
  kind: ExtractedFact['kind'];
  subject: string;
  text: string;
  sourceMessageIds: string[];
  /**
   * The day (YYYY-MM-DD) of the newest message it came from, when it was said (`sentAt`) or else stored: when the
   * fact held. Absent for facts merged before it was kept, or with no known source.
   */
  eventDate?: string;
}

export interface MergeResult {
  added: FactView[];
  superseded: FactView[];
  unchanged: number;
  /** False when this extraction was already merged (a retried activity). */
  applied: boolean;
}

/** "My favourite Food " → "favourite food": subjects compare case- and space-insensitively, without "my". */
export function normaliseSubject(subject: string): string {
  return subject
    .toLowerCase()
    .replace(/^\s*(my|the user'?s|user'?s|their|his|her)\s+/, '')
    .replace(/[^\p{L}\p{N} ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const normaliseText = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

export function factId(conversationId: string, subject: string, text: string): string {
  return createHash('sha256')
    .update(`${conversationId}\n${subject}\n${normaliseText(text)}`)
    .digest('hex')
    .slice(0, 24);
}

interface Row {
  fact_id: string;
  kind: FactView['kind'];
  subject: string;
  text: string;
  source_message_ids: string[];
  event_at: Date | null;
}
const toView = (r: Row): FactView => ({
  factId: r.fact_id,
  kind: r.kind,
  subject: r.subject,
  text: r.text,
  sourceMessageIds: r.source_message_ids,
  ...(r.event_at ? { eventDate: r.event_at.toISOString().slice(0, 10) } : {}),
});

const FACT_COLUMNS = 'fact_id, kind, subject, text, source_message_ids, event_at';
/** When the newest of the messages `$4` (ids) was said: the event time of a fact drawn from them. */
const SOURCE_EVENT_AT = `(SELECT max(coalesce(m.sent_at, m.created_at)) FROM messages m
  WHERE m.tenant_id = $1 AND m.conversation_id = $2 AND m.message_id = ANY($4::text[]))`;

/** Most messages one extraction reads. */
export const FACTS_BATCH = 60;

/**
 * The messages one extraction reads after the watermark: the oldest `max` of the backlog, and the sequence number
 * the watermark may move to — the last message read, never further, so a backlog is read in order to its end.
 */
export function factsBatch<T extends { seq: number }>(
  sinceWatermark: T[],
  max = FACTS_BATCH,
): { messages: T[]; throughSeq: number | undefined } {
  const messages = sinceWatermark.slice(0, max);
  return { messages, throughSeq: messages.at(-1)?.seq };
}

export class FactStore {
  constructor(private readonly db: Db) {}

  async active(tenantId: string, conversationId: string, limit = 200): Promise<FactView[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${FACT_COLUMNS} FROM facts
        WHERE tenant_id = $1 AND conversation_id = $2 AND status = 'active' ORDER BY updated_at DESC LIMIT $3`,
      [tenantId, conversationId, limit],
    );
    return rows.map(toView);
  }

  /** Active facts not yet in the semantic index, oldest first. */
  async unindexed(tenantId: string, conversationId: string, limit: number): Promise<FactView[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${FACT_COLUMNS} FROM facts
        WHERE tenant_id = $1 AND conversation_id = $2 AND status = 'active' AND indexed_at IS NULL
        ORDER BY created_at LIMIT $3`,
      [tenantId, conversationId, limit],
    );
    return rows.map(toView);
  }

  async markIndexed(tenantId: string, conversationId: string, factIds: string[]): Promise<void> {
    await this.db.query(
      'UPDATE facts SET indexed_at = now() WHERE tenant_id = $1 AND conversation_id = $2 AND fact_id = ANY($3::text[])',
      [tenantId, conversationId, factIds],
    );
  }

  async all(
    tenantId: string,
    conversationId: string,
  ): Promise<(FactView & { status: string; supersededBy: string | null })[]> {
    const rows = await this.db.query<Row & { status: string; superseded_by: string | null }>(
      `SELECT ${FACT_COLUMNS}, status, superseded_by FROM facts
        WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at`,
      [tenantId, conversationId],
    );
    return rows.map((r) => ({ ...toView(r), status: r.status, supersededBy: r.superseded_by }));
  }

  /**
   * Merges an extraction covering messages up to `throughSeq`, in one transaction that also advances the
   * conversation's watermark and marks the extraction's model call as accepted. A second call for the same
   * watermark (a retried activity) changes nothing.
   */
  async merge(
    scope: { tenantId: string; conversationId: string; userId: string },
    extracted: ExtractedFact[],
    throughSeq: number,
    llmCallId?: string,
  ): Promise<MergeResult> {
    const { tenantId, conversationId, userId } = scope;
    return this.db.transaction(async (tx) => {
      const mark = await tx.query<{ facts_through_seq: number }>(
        'SELECT facts_through_seq FROM conversations WHERE tenant_id = $1 AND conversation_id = $2 FOR UPDATE',
        [tenantId, conversationId],
      );
      if (!mark[0] || mark[0].facts_through_seq >= throughSeq)
        return { added: [], superseded: [], unchanged: 0, applied: false };
      const result: MergeResult = { added: [], superseded: [], unchanged: 0, applied: true };
      const named = extracted.flatMap((fact) => {
        const subject = normaliseSubject(fact.subject);
        return subject ? [{ ...fact, subject, id: factId(conversationId, subject, fact.text) }] : [];
      });
      // The subjects' active facts in one read, then kept here as each fact of the extraction changes them (in
      // order: a later fact about a subject sees the earlier ones): one statement per fact, not three.
      const active = new Map<string, Row[]>();
      const subjects = [...new Set(named.map((f) => f.subject))];
      if (subjects.length > 0) {
        const rows = await tx.query<Row>(
          `SELECT ${FACT_COLUMNS} FROM facts
            WHERE tenant_id = $1 AND conversation_id = $2 AND subject = ANY($3::text[]) AND status = 'active'`,
          [tenantId, conversationId, subjects],
        );
        for (const r of rows) active.set(r.subject, [...(active.get(r.subject) ?? []), r]);
      }
      for (const fact of named) {
        const { subject, id } = fact;
        const current = active.get(subject) ?? [];
        if (current.some((c) => c.fact_id === id)) {
          await tx.query(
            `UPDATE facts SET source_message_ids = ARRAY(SELECT DISTINCT unnest(source_message_ids || $4::text[])),
                  event_at = greatest(event_at, ${SOURCE_EVENT_AT}), updated_at = now()
              WHERE tenant_id = $1 AND conversation_id = $2 AND fact_id = $3`,
            [tenantId, conversationId, id, fact.sourceMessageIds],
          );
          result.unchanged++;
          continue;
        }
        // Only a real contradiction supersedes: another value of a multi-valued subject is added beside the others.
        const superseded = fact.multiValued ? [] : current;
        // The superseded rows are active and the inserted one is not among them (that is the branch above): the two
        // parts of the statement never touch the same row.
        const inserted = await tx.query<Row>(
          `WITH superseded AS (
             UPDATE facts SET status = 'superseded', superseded_by = $3, updated_at = now()
              WHERE tenant_id = $1 AND conversation_id = $2 AND fact_id = ANY($9::text[]))
           INSERT INTO facts (tenant_id, conversation_id, fact_id, user_id, kind, subject, text, source_message_ids,
             event_at)
           VALUES ($1, $2, $3, $5, $6, $7, $8, $4, ${SOURCE_EVENT_AT})
           ON CONFLICT (tenant_id, conversation_id, fact_id)
             DO UPDATE SET status = 'active', superseded_by = NULL, event_at = EXCLUDED.event_at, updated_at = now()
           RETURNING ${FACT_COLUMNS}`,
          [
            tenantId,
            conversationId,
            id,
            fact.sourceMessageIds,
            userId,
            fact.kind,
            subject,
            fact.text,
            superseded.map((old) => old.fact_id),
          ],
        );
        result.superseded.push(...superseded.map(toView));
        result.added.push(toView(inserted[0]!));
        active.set(subject, fact.multiValued ? [...current, inserted[0]!] : [inserted[0]!]);
      }
      await tx.query('UPDATE conversations SET facts_through_seq = $3 WHERE tenant_id = $1 AND conversation_id = $2', [
        tenantId,
        conversationId,
        throughSeq,
      ]);
      if (llmCallId) await markAccepted(tx, tenantId, conversationId, llmCallId);
      return result;
    });
  }

  /**
   * Stores one fact stated outside extraction (the `remember` tool): it supersedes the subject's other active
   * facts as extraction does, and leaves the extraction watermark alone. Idempotent for the same text.
   */
  async remember(
    scope: { tenantId: string; conversationId: string; userId: string },
    fact: ExtractedFact,
  ): Promise<FactView> {
    const { tenantId, conversationId, userId } = scope;
    const subject = normaliseSubject(fact.subject) || 'note';
    const id = factId(conversationId, subject, fact.text);
    return this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE facts SET status = 'superseded', superseded_by = $4, updated_at = now()
          WHERE tenant_id = $1 AND conversation_id = $2 AND subject = $3 AND status = 'active' AND fact_id <> $4`,
        [tenantId, conversationId, subject, id],
      );
      const rows = await tx.query<Row>(
        `INSERT INTO facts (tenant_id, conversation_id, fact_id, user_id, kind, subject, text, source_message_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, conversation_id, fact_id)
           DO UPDATE SET status = 'active', superseded_by = NULL, updated_at = now()
         RETURNING fact_id, kind, subject, text, source_message_ids`,
        [tenantId, conversationId, id, userId, fact.kind, subject, fact.text, fact.sourceMessageIds],
      );
      return toView(rows[0]!);
    });
  }
}
